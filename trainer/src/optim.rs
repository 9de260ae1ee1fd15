//! Adam over tch tensors, written out so that its state (step and moments) can be saved
//! in checkpoints and restored exactly.

use tch::Tensor;

pub const BETA1: f64 = 0.9;
pub const BETA2: f64 = 0.999;
pub const EPS: f64 = 1e-8;

pub struct Adam {
    pub lr: f64,
    pub step: i64,
    /// First and second moments, one per parameter, in the parameters' order.
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
}

impl Adam {
    pub fn new(params: &[Tensor], lr: f64) -> Self {
        Self { lr, step: 0, m: params.iter().map(Tensor::zeros_like).collect(), v: params.iter().map(Tensor::zeros_like).collect() }
    }

    /// One update from the parameters' gradients, which are then cleared.
    pub fn step(&mut self, params: &mut [Tensor]) {
        self.step += 1;
        let bc1 = 1.0 - BETA1.powi(self.step as i32);
        let bc2 = 1.0 - BETA2.powi(self.step as i32);
        tch::no_grad(|| {
            for ((p, m), v) in params.iter_mut().zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                *m *= BETA1;
                *m += &g * (1.0 - BETA1);
                *v *= BETA2;
                *v += g.square() * (1.0 - BETA2);
                let update = (&*m / bc1) / ((&*v / bc2).sqrt() + EPS) * self.lr;
                *p -= update;
                p.zero_grad();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn minimises_a_quadratic() {
        let mut x = Tensor::from_slice(&[3.0f32, -2.0]).set_requires_grad(true);
        let mut adam = Adam::new(&[x.shallow_clone()], 0.1);
        for _ in 0..300 {
            let loss = (&x - Tensor::from_slice(&[1.0f32, 1.0])).square().sum(Kind::Float);
            loss.backward();
            adam.step(std::slice::from_mut(&mut x));
        }
        let v: Vec<f32> = Vec::try_from(&x).unwrap();
        assert!((v[0] - 1.0).abs() < 0.05 && (v[1] - 1.0).abs() < 0.05, "{v:?}");
        assert_eq!(adam.step, 300);
        let _ = Device::Cpu;
    }
}
