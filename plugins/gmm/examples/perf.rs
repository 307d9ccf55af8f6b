use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::registry::{families, Spec};
use nsamp_plugin_gmm as _;
use std::time::Instant;
fn main() {
    let t = Spec::<families::Target>::from_ron("Gmm40()")
        .unwrap()
        .config
        .build()
        .unwrap();
    let n = 256_000;
    let mut rng = RngStreams::new(1).stream("x", 0);
    let mut x = vec![0f32; 2 * n];
    let t0 = Instant::now();
    fill_normal(&mut rng, &mut x);
    println!(
        "normals: {:.2} ns each",
        t0.elapsed().as_secs_f64() * 1e9 / (2 * n) as f64
    );
    x.iter_mut().for_each(|v| *v *= 30.0);
    let mut e = vec![0f32; n];
    let mut g = vec![0f32; 2 * n];
    for _ in 0..8 {
        let t0 = Instant::now();
        t.energy_and_grad(&x, &mut e, &mut g);
        println!(
            "energy_and_grad: {:.2} ns/point",
            t0.elapsed().as_secs_f64() * 1e9 / n as f64
        );
        let t0 = Instant::now();
        t.energy(&x, &mut e);
        println!(
            "energy: {:.2} ns/point",
            t0.elapsed().as_secs_f64() * 1e9 / n as f64
        );
    }
}
