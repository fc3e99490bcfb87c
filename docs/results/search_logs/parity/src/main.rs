use dcl_evo::*;
use dcl_graph::{Nb201Cell, Nb201Op, Nb201Space, Subspace};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn toy(c: &Nb201Cell) -> f64 {
    let mut s = 0.0;
    for (i, o) in c.ops().iter().enumerate() {
        s += match o { Nb201Op::NorConv3x3 => 3.0, Nb201Op::NorConv1x1 => 2.0, Nb201Op::SkipConnect => if i == 2 {5.0} else {0.5}, Nb201Op::AvgPool3x3 => 1.0, Nb201Op::None => 0.0 } * (1.0 + i as f64 * 0.1);
    }
    s
}
struct E;
impl<S: dcl_graph::SearchSpace<Arch = Nb201Cell>> Evaluator<S> for E {
    type Error = std::convert::Infallible;
    fn evaluate(&mut self, _: &S, a: &Nb201Cell) -> Result<f64, Self::Error> { Ok(toy(a)) }
}
struct Sur { n: usize, w: f64 }
impl<S: dcl_graph::SearchSpace<Arch = Nb201Cell>> Surrogate<S> for Sur {
    type Error = std::convert::Infallible;
    fn score(&mut self, _: &S, a: &[Nb201Cell]) -> Result<Vec<f64>, Self::Error> {
        Ok(a.iter().map(|c| toy(c) * self.w + ((c.ordinal() * 7919 + self.n) % 13) as f64).collect())
    }
    fn learn(&mut self, _: &S, l: &[(Nb201Cell, f64)]) -> Result<(), Self::Error> { self.n = l.len(); self.w = 1.0 + l.iter().map(|x| x.1).sum::<f64>() % 3.0; Ok(()) }
}
fn main() {
    let space = Nb201Space::new();
    let small: Vec<Nb201Cell> = (0..40).map(|i| Nb201Cell::from_ordinal(i * 97).unwrap()).collect();
    let sub = Subspace::new(Nb201Space::new(), small).unwrap();
    for seed in 0..40u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let h = RandomSearch.run(&space, &mut E, 60, &mut rng).unwrap();
        println!("rs {seed} {:?}", h.queries.iter().map(|q| q.arch.ordinal()).collect::<Vec<_>>());
        let h = RegularizedEvolution::default().run(&space, &mut E, 80, &mut rng).unwrap();
        println!("re {seed} {:?}", h.queries.iter().map(|q| q.arch.ordinal()).collect::<Vec<_>>());
        for explore in [0, 1, 2] {
            for infill in [3, 5] {
                let cfg = DclEnasConfig { explore, infill, ..Default::default() };
                let h = DclEnas::new(cfg.clone()).run(&space, &mut E, &mut Sur { n: 0, w: 1.0 }, 90, &mut rng).unwrap();
                println!("dcl {seed} {explore} {infill} {:?}", h.queries.iter().map(|q| q.arch.ordinal()).collect::<Vec<_>>());
                let h = DclEnas::new(cfg).run(&sub, &mut E, &mut Sur { n: 0, w: 1.0 }, 60, &mut rng).unwrap();
                println!("dclsub {seed} {explore} {infill} {:?}", h.queries.iter().map(|q| q.arch.ordinal()).collect::<Vec<_>>());
            }
        }
        let h = RegularizedEvolution::default().run(&sub, &mut E, 60, &mut rng).unwrap();
        println!("resub {seed} {:?}", h.queries.iter().map(|q| q.arch.ordinal()).collect::<Vec<_>>());
    }
}
