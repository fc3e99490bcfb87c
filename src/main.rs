//! The `dcl-enas` program: `dcl-enas --help` lists its commands.

fn main() -> std::process::ExitCode {
    dcl_cli::main()
}
