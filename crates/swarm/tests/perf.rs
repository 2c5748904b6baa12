//! A larger simulation for profiling: 8000 pieces, one seed, ten leechers.
//! Ignored by default; run with
//! `cargo test --release -p btl-swarm --test perf -- --ignored --nocapture`.

mod harness;

use std::time::{Duration, Instant};

use btl_swarm::Geometry;
use harness::{NodeSpec, Sim};

#[test]
#[ignore = "slow in debug builds; for profiling"]
fn many_pieces_many_peers() {
    let g = Geometry::v1(8000 * 16384, 16384);
    let mut specs = vec![NodeSpec::new("seed", true)];
    for _ in 0..10 {
        specs.push(NodeSpec::new("leecher", false));
    }
    let mut sim = Sim::new(g, specs);
    sim.check = false;
    sim.mesh(Duration::from_millis(30), 4 << 20);
    let wall = Instant::now();
    let leechers: Vec<usize> = (1..11).collect();
    let ok = sim.run_until(Duration::from_secs(3000), |s| s.complete(&leechers));
    eprintln!(
        "complete={ok} simulated={:?} wall={:?}",
        sim.elapsed(),
        wall.elapsed()
    );
    assert!(ok);
    for &n in &leechers {
        sim.assert_correct(n);
    }
}
