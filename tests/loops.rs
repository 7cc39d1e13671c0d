//! Loops kept as loops: each loop pattern of real code, differentiated with the loop kept
//! (`loops = "keep"`), against the same function unrolled (`loops = "unroll"`, checked
//! elsewhere against num-dual for every construct), against num-dual directly, and against
//! central differences.
#![allow(clippy::needless_range_loop)]

mod common;

use common::numeric::{close, Dual64, DualNum};
use gradgen::grad;

/// Defines a function twice from one body: `$kept` with its loops kept, `$unrolled` with its
/// loops unrolled. A parameter is its name, or `mut` and its name.
macro_rules! kept_and_unrolled {
    (
        $([$($args:tt)*])? fn $kept:ident / $unrolled:ident
        ($($($p:ident)+ : $t:ty),* $(,)?) -> $r:ty
        $body:block
    ) => {
        #[grad($($($args)*,)? loops = "keep")]
        fn $kept($($($p)+: $t),*) -> $r $body

        #[grad($($($args)*,)? loops = "unroll")]
        fn $unrolled($($($p)+: $t),*) -> $r $body
    };
}

/// A deterministic generator of points, so a failure reproduces.
fn points(seed: u64, n: usize, scale: f64) -> Vec<f64> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n).map(|_| scale * (2.0 * rng.f64() - 1.0)).collect()
}

fn array<const N: usize>(v: &[f64]) -> [f64; N] {
    std::array::from_fn(|i| v[i])
}

/// Asserts two gradients agree to 1e-12 relative (1e-14 absolute near zero).
fn assert_same(what: &str, kept: &[f64], unrolled: &[f64]) {
    assert_eq!(kept.len(), unrolled.len());
    for (k, (a, b)) in kept.iter().zip(unrolled).enumerate() {
        assert!(
            close(*a, *b, 1e-12, 1e-14),
            "{what}: component {k}: kept {a} vs unrolled {b}"
        );
    }
}

/// Asserts a gradient agrees with num-dual's, one seeded direction per component.
fn assert_dual<const N: usize>(
    what: &str,
    x: [f64; N],
    grad: &[f64],
    f: impl Fn([Dual64; N]) -> Dual64,
) {
    for k in 0..N {
        let seeded: [Dual64; N] =
            std::array::from_fn(|i| Dual64::new(x[i], if i == k { 1.0 } else { 0.0 }));
        let expected = f(seeded).eps;
        assert!(
            close(grad[k], expected, 1e-10, 1e-13),
            "{what}: ∂/∂x{k}: gradgen {} vs num-dual {expected}",
            grad[k]
        );
    }
}

/// Asserts a gradient agrees with central differences of `f`.
fn assert_fd<const N: usize>(what: &str, x: [f64; N], grad: &[f64], f: impl Fn([f64; N]) -> f64) {
    for k in 0..N {
        let h = 1e-6 * x[k].abs().max(1.0);
        let mut up = x;
        let mut down = x;
        up[k] += h;
        down[k] -= h;
        let fd = (f(up) - f(down)) / (2.0 * h);
        assert!(
            close(grad[k], fd, 1e-5, 1e-7),
            "{what}: ∂/∂x{k}: gradgen {} vs central difference {fd}",
            grad[k]
        );
    }
}

const N: usize = 40;

kept_and_unrolled! {
    fn rosenbrock_kept / rosenbrock_unrolled(x: [f64; N]) -> f64 {
        let mut s = 0.0;
        for i in 0..N / 2 {
            let a = x[2 * i + 1] - x[2 * i] * x[2 * i];
            let b = 1.0 - x[2 * i];
            s += 100.0 * a * a + b * b;
        }
        s
    }
}

fn rosenbrock_dual(x: [Dual64; N]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for i in 0..N / 2 {
        let a = x[2 * i + 1] - x[2 * i] * x[2 * i];
        let b = -x[2 * i] + 1.0;
        s += a * a * 100.0 + b * b;
    }
    s
}

#[test]
fn a_reduction_kept_as_a_loop_matches_unrolled_and_num_dual() {
    for seed in 0..20 {
        let x: [f64; N] = array(&points(seed, N, 2.0));
        let (v, g) = rosenbrock_kept_grad(x);
        let (u, h) = rosenbrock_unrolled_grad(x);
        assert_eq!(v.to_bits(), rosenbrock_kept(x).to_bits());
        assert!(close(v, u, 1e-13, 0.0));
        assert_same("rosenbrock", &g, &h);
        assert_dual("rosenbrock", x, &g, rosenbrock_dual);
        assert_fd("rosenbrock", x, &g, rosenbrock_kept);
    }
}

const M: usize = 20;

kept_and_unrolled! {
    fn recurrence_kept / recurrence_unrolled(w: [f64; M], x: [f64; M], c: f64) -> f64 {
        let mut h = 0.5;
        for i in 0..M {
            h = (h * w[i] + x[i] * c).tanh();
        }
        h * h
    }
}

/// The recurrence's inputs flattened: `w`, `x`, then `c`.
fn recurrence_dual(p: [Dual64; 2 * M + 1]) -> Dual64 {
    let mut h = Dual64::from(0.5);
    for i in 0..M {
        h = (h * p[i] + p[M + i] * p[2 * M]).tanh();
    }
    h * h
}

#[test]
fn a_recurrence_kept_as_a_loop_matches_unrolled_and_num_dual() {
    for seed in 0..20 {
        let p: [f64; 2 * M + 1] = array(&points(100 + seed, 2 * M + 1, 1.5));
        let (w, x, c): ([f64; M], [f64; M], f64) = (array(&p[..M]), array(&p[M..2 * M]), p[2 * M]);
        let (v, (gw, gx, gc)) = recurrence_kept_grad(w, x, c);
        let (u, (hw, hx, hc)) = recurrence_unrolled_grad(w, x, c);
        assert!(close(v, u, 1e-13, 0.0));
        let kept: Vec<f64> = gw.iter().chain(&gx).chain([&gc]).copied().collect();
        let unrolled: Vec<f64> = hw.iter().chain(&hx).chain([&hc]).copied().collect();
        assert_same("recurrence", &kept, &unrolled);
        assert_dual("recurrence", p, &kept, recurrence_dual);
        let plain =
            |p: [f64; 2 * M + 1]| recurrence_kept(array(&p[..M]), array(&p[M..2 * M]), p[2 * M]);
        assert_fd("recurrence", p, &kept, plain);
    }
}

kept_and_unrolled! {
    fn two_carried_kept / two_carried_unrolled(w: [f64; M], x: [f64; M]) -> f64 {
        let mut h = 0.5;
        let mut c = -0.25;
        for i in (0..M).rev() {
            let g = (h * w[i] + x[i]).tanh();
            c = c * g.sin() + g * x[i];
            h = g * c.cos() + 0.1 * h;
        }
        h * h + c
    }
}

fn two_carried_dual(p: [Dual64; 2 * M]) -> Dual64 {
    let (mut h, mut c) = (Dual64::from(0.5), Dual64::from(-0.25));
    for i in (0..M).rev() {
        let g = (h * p[i] + p[M + i]).tanh();
        c = c * g.sin() + g * p[M + i];
        h = g * c.cos() + h * 0.1;
    }
    h * h + c
}

#[test]
fn a_recurrence_of_two_values_over_a_reversed_range_matches_unrolled_and_num_dual() {
    // The reversed loop reads each iteration's end values (`h` and `c` after the step), which
    // it takes from the next iteration's start values instead of a tape.
    for seed in 0..20 {
        let p: [f64; 2 * M] = array(&points(300 + seed, 2 * M, 1.5));
        let (w, x): ([f64; M], [f64; M]) = (array(&p[..M]), array(&p[M..]));
        let (v, (gw, gx)) = two_carried_kept_grad(w, x);
        let (u, (hw, hx)) = two_carried_unrolled_grad(w, x);
        assert!(close(v, u, 1e-13, 0.0));
        let kept: Vec<f64> = gw.iter().chain(&gx).copied().collect();
        let unrolled: Vec<f64> = hw.iter().chain(&hx).copied().collect();
        assert_same("two carried", &kept, &unrolled);
        assert_dual("two carried", p, &kept, two_carried_dual);
        let plain = |p: [f64; 2 * M]| two_carried_kept(array(&p[..M]), array(&p[M..]));
        assert_fd("two carried", p, &kept, plain);
    }
}

kept_and_unrolled! {
    fn strided_kept / strided_unrolled(x: [f64; M]) -> f64 {
        let mut s = x[3] * x[4];
        for i in 0..M / 2 {
            s += (x[2 * i + 1] - x[2 * i] * x[2 * i]).powi(2);
        }
        for i in 0..M / 4 {
            s += x[4 * i + 2].sin();
        }
        s
    }
}

#[test]
fn gradient_elements_written_by_several_loops_and_outside_match_unrolled() {
    // Each loop alone writes each element once, but not the only one: they add.
    for seed in 0..20 {
        let x: [f64; M] = array(&points(600 + seed, M, 1.5));
        let (v, g) = strided_kept_grad(x);
        let (u, h) = strided_unrolled_grad(x);
        assert!(close(v, u, 1e-13, 0.0));
        assert_same("strided", &g, &h);
        assert_fd("strided", x, &g, strided_kept);
    }
}

kept_and_unrolled! {
    [wrt(x, c)]
    fn data_kept / data_unrolled(x: [f64; M], c: f64, n: usize, flag: bool, k: i32) -> f64 {
        let mut s = 0.0;
        for i in 0..M {
            let t = if flag && (i as f64) < n as f64 || (i as f64) < c {
                x[i].sin() * k as f64
            } else {
                -(i as f64) * x[i] * c
            };
            s += t * n as f64 + x[i] * (i as f64 - 1.0);
        }
        s
    }
}

#[test]
fn integer_and_bool_parameters_and_the_loop_variable_read_in_a_kept_loop_match_unrolled() {
    for seed in 0..20 {
        let x: [f64; M] = array(&points(700 + seed, M, 1.5));
        let c = 12.0 * points(800 + seed, 1, 1.0)[0].abs();
        for (n, flag, k) in [(5, true, -2), (13, false, 3), (0, true, 1)] {
            let (v, (g, gc)) = data_kept_grad(x, c, n, flag, k);
            let (u, (h, hc)) = data_unrolled_grad(x, c, n, flag, k);
            assert!(close(v, u, 1e-13, 0.0), "{v} against {u}");
            assert_same("data", &g, &h);
            assert!(close(gc, hc, 1e-12, 1e-12), "{gc} against {hc}");
            assert_fd("data", x, &g, |x| data_kept(x, c, n, flag, k));
        }
    }
}

kept_and_unrolled! {
    fn scan_kept / scan_unrolled(mut v: [f64; M], a: f64) -> f64 {
        for i in 1..M {
            v[i] += (v[i - 1] * a).sin();
        }
        let mut s = 0.0;
        for i in 0..M {
            s += v[i] * v[i];
        }
        s
    }
}

fn scan_dual(p: [Dual64; M + 1]) -> Dual64 {
    let mut v: Vec<Dual64> = p[..M].to_vec();
    for i in 1..M {
        v[i] = v[i] + (v[i - 1] * p[M]).sin();
    }
    v.iter().fold(Dual64::from(0.0), |s, &e| s + e * e)
}

#[test]
fn a_mut_array_parameter_written_by_a_loop_matches_unrolled_and_num_dual() {
    // The loop's buffer is a copy of the parameter and its adjoint array is the gradient,
    // returned whole (`gradgen-core/tests/kept_loops.rs` checks the code does not grow).
    for seed in 0..20 {
        let p: [f64; M + 1] = array(&points(500 + seed, M + 1, 1.2));
        let (v, a): ([f64; M], f64) = (array(&p[..M]), p[M]);
        let (value, (gv, ga)) = scan_kept_grad(v, a);
        let (u, (hv, ha)) = scan_unrolled_grad(v, a);
        assert!(close(value, u, 1e-13, 0.0));
        let kept: Vec<f64> = gv.iter().chain([&ga]).copied().collect();
        let unrolled: Vec<f64> = hv.iter().chain([&ha]).copied().collect();
        assert_same("scan", &kept, &unrolled);
        assert_dual("scan", p, &kept, scan_dual);
        let plain = |p: [f64; M + 1]| scan_kept(array(&p[..M]), p[M]);
        assert_fd("scan", p, &kept, plain);
    }
}

kept_and_unrolled! {
    [wrt(w)]
    fn map_then_reduce_kept / map_then_reduce_unrolled(w: [f64; M], x: [f64; M]) -> f64 {
        let mut h = [0.0; M];
        for i in 0..M {
            h[i] = (w[i] * x[i]).tanh();
        }
        let mut s = 0.0;
        for i in 0..M {
            s += h[i] * h[i] * x[i];
        }
        s.sqrt()
    }
}

#[test]
fn an_elementwise_map_into_a_buffer_then_a_reduction_matches_unrolled() {
    for seed in 0..20 {
        let w: [f64; M] = array(&points(200 + seed, M, 2.0));
        let x: [f64; M] = array(
            &points(300 + seed, M, 1.0)
                .iter()
                .map(|v| v.abs() + 0.1)
                .collect::<Vec<_>>(),
        );
        let (v, g) = map_then_reduce_kept_grad(w, x);
        let (u, h) = map_then_reduce_unrolled_grad(w, x);
        assert!(close(v, u, 1e-13, 0.0));
        assert_same("map then reduce", &g, &h);
        let dual = |w: [Dual64; M]| {
            let mut s = Dual64::from(0.0);
            for i in 0..M {
                let h = (w[i] * x[i]).tanh();
                s += h * h * x[i];
            }
            s.sqrt()
        };
        assert_dual("map then reduce", w, &g, dual);
    }
}

kept_and_unrolled! {
    fn lse_kept / lse_unrolled(v: [f64; M]) -> f64 {
        let mut m = v[0];
        for i in 1..M {
            m = m.max(v[i]);
        }
        let mut s = 0.0;
        for i in 0..M {
            s += (v[i] - m).exp();
        }
        m + s.ln()
    }
}

#[test]
fn log_sum_exp_over_an_array_matches_unrolled_and_num_dual_with_and_without_ties() {
    for seed in 0..20 {
        let mut v: [f64; M] = array(&points(400 + seed, M, 30.0));
        if seed % 2 == 0 {
            // A tie for the maximum: the convention gives half to each, in both forms.
            let top = v.iter().copied().fold(f64::MIN, f64::max);
            v[(seed as usize) % M] = top;
        }
        let (a, g) = lse_kept_grad(v);
        let (b, h) = lse_unrolled_grad(v);
        assert!(close(a, b, 1e-13, 0.0));
        assert_same("log-sum-exp", &g, &h);
        let sum: f64 = g.iter().sum();
        assert!(close(sum, 1.0, 1e-12, 0.0), "softmax sums to {sum}");
        if seed % 2 == 1 {
            let dual = |v: [Dual64; M]| {
                let m = v.iter().fold(
                    Dual64::from(f64::MIN),
                    |m, &x| if x.re > m.re { x } else { m },
                );
                let s = v.iter().fold(Dual64::from(0.0), |s, &x| s + (x - m).exp());
                m + s.ln()
            };
            assert_dual("log-sum-exp", v, &g, dual);
        }
    }
}

const J: usize = 6;
const K: usize = 20;

kept_and_unrolled! {
    [wrt(w, b)]
    fn matvec_kept / matvec_unrolled(w: &[[f64; K]; J], b: &[f64; J], x: &[f64; K]) -> f64 {
        let mut out = [0.0; J];
        for j in 0..J {
            let mut a = b[j];
            for k in 0..K {
                a += w[j][k] * x[k];
            }
            out[j] = a.tanh();
        }
        let mut s = 0.0;
        for j in 0..J {
            s += out[j] * out[j];
        }
        s
    }
}

#[test]
fn nested_loops_of_a_matrix_vector_product_match_unrolled() {
    for seed in 0..10 {
        let p = points(500 + seed, J * K + J + K, 0.5);
        let w: [[f64; K]; J] = std::array::from_fn(|j| array(&p[j * K..(j + 1) * K]));
        let b: [f64; J] = array(&p[J * K..J * K + J]);
        let x: [f64; K] = array(&p[J * K + J..]);
        let (v, (gw, gb)) = matvec_kept_grad(&w, &b, &x);
        let (u, (hw, hb)) = matvec_unrolled_grad(&w, &b, &x);
        assert!(close(v, u, 1e-13, 0.0));
        assert_same("matvec w", gw.as_flattened(), hw.as_flattened());
        assert_same("matvec b", &gb, &hb);
        let flat: [f64; J * K + J] = array(&p[..J * K + J]);
        let dual = |q: [Dual64; J * K + J]| {
            let mut s = Dual64::from(0.0);
            for j in 0..J {
                let mut a = q[J * K + j];
                for k in 0..K {
                    a += q[j * K + k] * x[k];
                }
                s += a.tanh() * a.tanh();
            }
            s
        };
        let kept: Vec<f64> = gw.as_flattened().iter().chain(&gb).copied().collect();
        assert_dual("matvec", flat, &kept, dual);
    }
}

const D: usize = 8;

kept_and_unrolled! {
    [wrt(l, x)]
    fn triangular_kept / triangular_unrolled(l: &[[f64; D]; D], x: &[f64; D], scale: f64) -> f64 {
        let mut s = 0.0;
        for c in 0..D {
            for r in c + 1..D {
                s += l[r][c] * x[c] * x[r];
            }
        }
        (s * scale).sin()
    }
}

#[test]
fn triangular_nested_loops_with_bounds_on_the_outer_variable_match_unrolled() {
    for seed in 0..10 {
        let p = points(600 + seed, D * D + D, 1.0);
        let l: [[f64; D]; D] = std::array::from_fn(|r| array(&p[r * D..(r + 1) * D]));
        let x: [f64; D] = array(&p[D * D..]);
        let (v, (gl, gx)) = triangular_kept_grad(&l, &x, 0.3);
        let (u, (hl, hx)) = triangular_unrolled_grad(&l, &x, 0.3);
        assert!(close(v, u, 1e-13, 0.0));
        assert_same("triangular l", gl.as_flattened(), hl.as_flattened());
        assert_same("triangular x", &gx, &hx);
        let flat: [f64; D * D + D] = array(&p);
        let dual = |q: [Dual64; D * D + D]| {
            let mut s = Dual64::from(0.0);
            for c in 0..D {
                for r in c + 1..D {
                    s += q[r * D + c] * q[D * D + c] * q[D * D + r];
                }
            }
            (s * 0.3).sin()
        };
        let kept: Vec<f64> = gl.as_flattened().iter().chain(&gx).copied().collect();
        assert_dual("triangular", flat, &kept, dual);
        // Entries on and above the diagonal are never read.
        for r in 0..D {
            for c in r..D {
                assert_eq!(gl[r][c], 0.0);
            }
        }
    }
}

kept_and_unrolled! {
    [wrt(w)]
    fn accumulate_kept / accumulate_unrolled(w: &[[f64; K]; J], x: &[f64; J]) -> f64 {
        let mut g = [0.0; K];
        for j in 0..J {
            for k in 0..K {
                g[k] += w[j][k] * x[j];
            }
        }
        let mut s = 0.0;
        for k in (0..K).rev() {
            s += g[k].sin() * (k as f64);
        }
        s
    }
}

#[test]
fn accumulation_into_an_array_by_an_inner_loop_and_a_reversed_range_match_unrolled() {
    for seed in 0..10 {
        let p = points(700 + seed, J * K + J, 1.0);
        let w: [[f64; K]; J] = std::array::from_fn(|j| array(&p[j * K..(j + 1) * K]));
        let x: [f64; J] = array(&p[J * K..]);
        let (v, g) = accumulate_kept_grad(&w, &x);
        let (u, h) = accumulate_unrolled_grad(&w, &x);
        assert!(close(v, u, 1e-12, 1e-14));
        assert_same("accumulate", g.as_flattened(), h.as_flattened());
        let flat: [f64; J * K] = array(&p[..J * K]);
        let dual = |q: [Dual64; J * K]| {
            let mut s = Dual64::from(0.0);
            for k in (0..K).rev() {
                let mut g = Dual64::from(0.0);
                for j in 0..J {
                    g += q[j * K + k] * x[j];
                }
                s += g.sin() * (k as f64);
            }
            s
        };
        assert_dual("accumulate", flat, g.as_flattened(), dual);
    }
}

kept_and_unrolled! {
    fn inclusive_f32_kept / inclusive_f32_unrolled(x: [f32; 12]) -> f32 {
        let mut p = 1.0;
        for i in 1..=10 {
            p = p * (x[i] * x[i - 1] + 1.0).ln() + x[i + 1];
        }
        p
    }
}

#[test]
fn an_inclusive_range_in_an_f32_function_matches_unrolled() {
    for seed in 0..10 {
        let x: [f32; 12] = std::array::from_fn(|i| points(800 + seed, 12, 1.0)[i].abs() as f32);
        let (v, g) = inclusive_f32_kept_grad(x);
        let (u, h) = inclusive_f32_unrolled_grad(x);
        assert!((v - u).abs() <= 1e-5 * u.abs().max(1.0));
        for (a, b) in g.iter().zip(&h) {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
}

const HUGE: usize = 100_000;

#[grad]
fn rosenbrock_huge(x: &[f64; HUGE]) -> f64 {
    let mut s = 0.0;
    for i in 0..HUGE / 2 {
        let a = x[2 * i + 1] - x[2 * i] * x[2 * i];
        let b = 1.0 - x[2 * i];
        s += 100.0 * a * a + b * b;
    }
    s
}

#[test]
fn extended_rosenbrock_of_100_000_values_compiles_and_matches_its_closed_form_gradient() {
    // 800 KB arrays: on a thread with room for them.
    let run = || {
        let x: Vec<f64> = points(900, HUGE, 1.5);
        let x: Box<[f64; HUGE]> = x.into_boxed_slice().try_into().expect("length");
        let (value, g) = rosenbrock_huge_grad(&x);
        assert_eq!(value.to_bits(), rosenbrock_huge(&x).to_bits());
        for i in 0..HUGE / 2 {
            let (u, v) = (x[2 * i], x[2 * i + 1]);
            let a = v - u * u;
            let du = -400.0 * a * u - 2.0 * (1.0 - u);
            let dv = 200.0 * a;
            assert!(
                close(g[2 * i], du, 1e-12, 1e-12),
                "∂/∂x{}: {} vs {du}",
                2 * i,
                g[2 * i]
            );
            assert!(close(g[2 * i + 1], dv, 1e-12, 1e-12), "∂/∂x{}", 2 * i + 1);
        }
    };
    let thread = std::thread::Builder::new().stack_size(64 << 20).spawn(run);
    thread.expect("spawn").join().expect("no failure");
}

#[grad]
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

kept_and_unrolled! {
    fn branchy_kept / branchy_unrolled(x: [f64; M], c: f64) -> f64 {
        let mut s = 0.0;
        let mut p = 1.0;
        for i in 0..M {
            let v = x[i] * c;
            if v > 0.5 {
                s += softplus(v) * v.sqrt();
            } else if v < -0.5 {
                s -= (-v).ln();
            } else {
                p *= 1.0 + v * v;
            }
        }
        s + p.ln()
    }
}

#[test]
fn branches_and_calls_inside_a_kept_loop_match_unrolled_on_every_side() {
    for seed in 0..30 {
        let p = points(1000 + seed, M + 1, 2.0);
        let x: [f64; M] = array(&p[..M]);
        let c = p[M];
        let (v, (gx, gc)) = branchy_kept_grad(x, c);
        let (u, (hx, hc)) = branchy_unrolled_grad(x, c);
        assert!(close(v, u, 1e-13, 0.0));
        assert_same("branchy x", &gx, &hx);
        assert_same("branchy c", &[gc], &[hc]);
        // No NaN from an arm not taken (sqrt and ln of negative numbers).
        assert!(gx.iter().all(|g| g.is_finite()) && gc.is_finite());
    }
}
