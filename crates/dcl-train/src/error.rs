//! The one error type of this crate.

/// Everything that can go wrong building or training a candidate network.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// No data, or data whose parts disagree in size.
    #[error("bad data: {0}")]
    Data(String),
    /// A label outside `0..n_classes`.
    #[error("label {label} out of range for {n_classes} classes")]
    Label {
        /// The label found.
        label: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// A configuration that cannot work (zero epochs, zero channels, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A cell that cannot be built (an edge that goes backwards, a node out of range, ...).
    #[error("invalid cell: {0}")]
    Cell(String),
    /// The loss became NaN or infinite.
    #[error("training diverged: loss {loss} at step {step}")]
    Diverged {
        /// The last loss.
        loss: f32,
        /// The optimisation step.
        step: usize,
    },
    /// The requested device cannot be used: a backend feature not compiled in, or no CUDA
    /// driver or GPU present.
    #[error("device {device} unavailable: {reason}")]
    DeviceUnavailable {
        /// The device asked for.
        device: String,
        /// Why it cannot be used.
        reason: String,
    },
}
