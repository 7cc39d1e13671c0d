//! The benchmark functions of `benches/functions/`: the ADBench test instances of
//! BENCHMARKS.md with their exact gradients, and, at the points the benchmarks measure, the
//! same gradient from `#[grad]`, by hand and from num-dual, so that `cargo bench --bench
//! gradients` times three computations of one gradient.

// The reference values are written as BENCHMARKS.md gives them, with more digits than an f64.
#![allow(clippy::excessive_precision)]

#[path = "../benches/functions/mod.rs"]
mod functions;

use functions::{dual, generated, hand, inputs};

/// `got` and `expected` agree to `rel` relative to the larger magnitude (at least 1).
fn assert_close(got: &[f64], expected: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: lengths");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let scale = g.abs().max(e.abs()).max(1.0);
        assert!((g - e).abs() <= rel * scale, "{what}[{i}]: {g} against {e}");
    }
}

fn flat<'a>(parts: impl IntoIterator<Item = &'a [f64]>) -> Vec<f64> {
    parts.into_iter().flatten().copied().collect()
}

/// The exact gradient of ADBench's GMM test instance, in the order α, μ, icf.
const GMM_TEST_GRADIENT: [f64; 18] = [
    0.108662855508652456,
    -0.741270039523898472,
    0.632607184015246071,
    1.11692576532787013,
    0.163333013551455269,
    -0.0219989824071193142,
    0.227778292254236098,
    1.20963025612832187,
    -0.0606375920733956339,
    2.58529994051162237,
    0.112632694524213789,
    0.385744309849611777,
    0.0735180573182305508,
    5.41836362715595232,
    -0.321494409677446469,
    1.71892309775004937,
    0.860091090790866875,
    -0.994640930466322848,
];

/// The objective of that instance with the exact π (ADBench's text, with π = 3.14159265359,
/// gives 8.07380408004975791).
const GMM_TEST_VALUE: f64 = 8.0738040800497;

#[test]
fn gmm_test_instance_has_the_exact_value_and_gradient() {
    let g = inputs::gmm_test();
    let (value, (da, dm, di)) = generated::gmm_2_3_1_grad(&g.alphas, &g.means, &g.icf, &g.x);
    assert!((value - GMM_TEST_VALUE).abs() < 1e-12, "{value}");
    assert_eq!(
        value,
        generated::gmm_2_3_1(&g.alphas, &g.means, &g.icf, &g.x)
    );
    let gradient = flat(
        [&da[..]]
            .into_iter()
            .chain(dm.iter().map(|r| &r[..]))
            .chain(di.iter().map(|r| &r[..])),
    );
    assert_close(&gradient, &GMM_TEST_GRADIENT, 1e-14, "generated");

    let (value, (da, dm, di)) = hand::gmm(&g.alphas, &g.means, &g.icf, &g.x);
    assert!((value - GMM_TEST_VALUE).abs() < 1e-12, "{value}");
    let gradient = flat(
        [&da[..]]
            .into_iter()
            .chain(dm.iter().map(|r| &r[..]))
            .chain(di.iter().map(|r| &r[..])),
    );
    assert_close(&gradient, &GMM_TEST_GRADIENT, 1e-14, "by hand");

    let (value, gradient) = dual::gmm::<2, 3, 1, 3, 18>(&g.alphas, &g.means, &g.icf, &g.x);
    assert!((value - GMM_TEST_VALUE).abs() < 1e-12, "{value}");
    assert_close(&gradient, &GMM_TEST_GRADIENT, 1e-14, "num-dual");
}

const BA_TEST_RESIDUALS: [f64; 2] = [-0.269048849235189402, 0.259944792677901881];

const BA_TEST_JACOBIAN: [[f64; 15]; 2] = [
    [
        228.877202208246757,
        634.574811495545418,
        -782.222866259340549,
        2.42892615607159668,
        -11.7828079628011313,
        2.54169312487743460,
        -1.03657084958518086,
        0.417022,
        0.0,
        -350.739521096005205,
        -912.107773668008576,
        -2.42892615607159668,
        11.7828079628011313,
        -2.54169312487743460,
        -0.645167039712987389,
    ],
    [
        -120.542435994996879,
        -385.673240766460424,
        97.5476291403326456,
        -1.78372108529576567,
        4.15466799433126077,
        2.04025718029898906,
        0.349176397433145880,
        0.0,
        0.417022,
        118.149147704414503,
        307.250108960343255,
        1.78372108529576567,
        -4.15466799433126077,
        -2.04025718029898906,
        0.623335921553064054,
    ],
];

#[test]
fn ba_test_instance_has_the_exact_jacobian() {
    let b = inputs::ba_test();
    // The residuals are differences of terms of about 500: computed in another order (by
    // hand, `u = p·(1/p₂)`), they agree to about 1e-13 only.
    let computed = [
        (
            "generated",
            generated::ba_jacobian(&b.cam, &b.x, b.w, &b.m),
            1e-14,
        ),
        ("by hand", hand::ba_jacobian(&b.cam, &b.x, b.w, &b.m), 1e-12),
        (
            "num-dual",
            dual::ba_jacobian(&b.cam, &b.x, b.w, &b.m),
            1e-12,
        ),
    ];
    for (what, (e, jac), rel) in computed {
        assert_close(&e, &BA_TEST_RESIDUALS, rel, what);
        assert_close(
            &jac.concat(),
            &BA_TEST_JACOBIAN.concat(),
            rel.max(1e-13),
            what,
        );
    }
    let e = generated::ba_residuals(&b.cam, &b.x, b.w, &b.m);
    assert_eq!(e[0], generated::ba_residual_0(&b.cam, &b.x, b.w, &b.m));
    assert_eq!(e[1], generated::ba_residual_1(&b.cam, &b.x, b.w, &b.m));
    assert_close(&e, &BA_TEST_RESIDUALS, 1e-14, "ba_residuals");
}

#[test]
fn ba_jacobian_without_rotation_takes_the_other_branch() {
    let mut b = inputs::ba_test();
    b.cam[..3].copy_from_slice(&[0.0; 3]);
    let (e, jac) = generated::ba_jacobian(&b.cam, &b.x, b.w, &b.m);
    let (e_hand, jac_hand) = hand::ba_jacobian(&b.cam, &b.x, b.w, &b.m);
    let (e_dual, jac_dual) = dual::ba_jacobian(&b.cam, &b.x, b.w, &b.m);
    assert_close(&e, &e_hand, 1e-12, "residuals by hand");
    assert_close(&e, &e_dual, 1e-12, "residuals by num-dual");
    assert_close(&jac.concat(), &jac_hand.concat(), 1e-13, "by hand");
    assert_close(&jac.concat(), &jac_dual.concat(), 1e-13, "num-dual");
}

/// The three gradients of a benchmark at its measured point agree.
fn agree(what: &str, generated: (f64, Vec<f64>), hand: (f64, Vec<f64>), dual: (f64, Vec<f64>)) {
    assert_close(
        &[hand.0],
        &[generated.0],
        1e-12,
        &format!("{what}: value by hand"),
    );
    assert_close(
        &[dual.0],
        &[generated.0],
        1e-12,
        &format!("{what}: value by num-dual"),
    );
    assert_close(
        &hand.1,
        &generated.1,
        1e-11,
        &format!("{what}: gradient by hand"),
    );
    assert_close(
        &dual.1,
        &generated.1,
        1e-11,
        &format!("{what}: gradient by num-dual"),
    );
}

#[test]
fn scalar_functions_agree_by_hand_and_by_num_dual() {
    let (v, (dx, dy)) = generated::rosenbrock_grad(-1.2, 1.0);
    let (hv, (hx, hy)) = hand::rosenbrock(-1.2, 1.0);
    let (nv, n) = dual::rosenbrock(-1.2, 1.0);
    agree(
        "rosenbrock",
        (v, vec![dx, dy]),
        (hv, vec![hx, hy]),
        (nv, n.to_vec()),
    );
    let (v, d) = generated::exp_sin_sq_grad(0.7);
    let (hv, h) = hand::exp_sin_sq(0.7);
    let (nv, n) = dual::exp_sin_sq(0.7);
    agree("exp_sin_sq", (v, vec![d]), (hv, vec![h]), (nv, n.to_vec()));
}

#[test]
fn array_functions_agree_by_hand_and_by_num_dual() {
    let rng = &mut inputs::rng();
    let x10: [f64; 10] = inputs::uniform(rng, -1.5, 1.5);
    let x100: [f64; 100] = inputs::uniform(rng, -1.5, 1.5);
    let pair = |(v, g): (f64, [f64; 10])| (v, g.to_vec());
    let pair100 = |(v, g): (f64, [f64; 100])| (v, g.to_vec());
    agree(
        "extended 10",
        pair(generated::extended_rosenbrock_10_grad(&x10)),
        pair(hand::extended_rosenbrock(&x10)),
        pair(dual::extended_rosenbrock(&x10)),
    );
    agree(
        "extended 100",
        pair100(generated::extended_rosenbrock_100_grad(&x100)),
        pair100(hand::extended_rosenbrock(&x100)),
        pair100(dual::extended_rosenbrock(&x100)),
    );
    agree(
        "chained 10",
        pair(generated::chained_rosenbrock_10_grad(&x10)),
        pair(hand::chained_rosenbrock(&x10)),
        pair(dual::chained_rosenbrock(&x10)),
    );
    agree(
        "chained 100",
        pair100(generated::chained_rosenbrock_100_grad(&x100)),
        pair100(hand::chained_rosenbrock(&x100)),
        pair100(dual::chained_rosenbrock(&x100)),
    );
    let v: [f64; 100] = inputs::uniform(rng, -5.0, 5.0);
    agree(
        "log-sum-exp",
        pair100(generated::log_sum_exp_grad(&v)),
        pair100(hand::log_sum_exp(&v)),
        pair100(dual::log_sum_exp(&v)),
    );
}

#[test]
fn mlp_agrees_by_hand_and_by_num_dual() {
    let n = inputs::mlp();
    let args = (&n.w1, &n.b1, &n.w2, &n.b2, &n.x, &n.y);
    let flatten = |(v, (w1, b1, w2, b2)): (f64, hand::MlpGradient)| {
        (
            v,
            flat(
                w1.iter()
                    .map(|r| &r[..])
                    .chain([&b1[..]])
                    .chain(w2.iter().map(|r| &r[..]))
                    .chain([&b2[..]]),
            ),
        )
    };
    let (v, g) = dual::mlp_loss(args.0, args.1, args.2, args.3, args.4, args.5);
    agree(
        "mlp",
        flatten(generated::mlp_loss_grad(
            args.0, args.1, args.2, args.3, args.4, args.5,
        )),
        flatten(hand::mlp_loss(
            args.0, args.1, args.2, args.3, args.4, args.5,
        )),
        (v, g.to_vec()),
    );
}

fn gmm_flat<const D: usize, const K: usize, const ICF: usize>(
    (v, (da, dm, di)): (f64, hand::GmmGradient<D, K, ICF>),
) -> (f64, Vec<f64>) {
    let rows = dm.iter().map(|r| &r[..]).chain(di.iter().map(|r| &r[..]));
    (v, flat([&da[..]].into_iter().chain(rows)))
}

#[test]
fn gmm_agrees_by_hand_and_by_num_dual() {
    let g = inputs::gmm::<2, 5, 10, 3>();
    let (v, n) = dual::gmm::<2, 5, 10, 3, 30>(&g.alphas, &g.means, &g.icf, &g.x);
    agree(
        "gmm small",
        gmm_flat(generated::gmm_2_5_10_grad(
            &g.alphas, &g.means, &g.icf, &g.x,
        )),
        gmm_flat(hand::gmm(&g.alphas, &g.means, &g.icf, &g.x)),
        (v, n.to_vec()),
    );
    let g = inputs::gmm::<10, 25, 2, 55>();
    let (v, n) = dual::gmm::<10, 25, 2, 55, 1650>(&g.alphas, &g.means, &g.icf, &g.x);
    agree(
        "gmm large",
        gmm_flat(generated::gmm_10_25_2_grad(
            &g.alphas, &g.means, &g.icf, &g.x,
        )),
        gmm_flat(hand::gmm(&g.alphas, &g.means, &g.icf, &g.x)),
        (v, n.to_vec()),
    );
}

/// Runs `f` on a thread with a stack for arrays of megabytes: the kept-loop rows' arrays of
/// 100,000 values and GMM d = 64's parameters and gradients, too large for a test thread.
fn on_large_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .expect("a thread")
        .join()
        .expect("the check passed");
}

#[test]
fn kept_loop_rosenbrock_agrees_by_hand_and_by_num_dual() {
    let rng = &mut inputs::rng();
    let x10: [f64; 10] = inputs::uniform(rng, -1.5, 1.5);
    let pair = |(v, g): (f64, [f64; 10])| (v, g.to_vec());
    agree(
        "extended 10, loops = keep",
        pair(generated::extended_rosenbrock_10_keep_grad(&x10)),
        pair(hand::extended_rosenbrock(&x10)),
        pair(dual::extended_rosenbrock(&x10)),
    );
    let x1000: [f64; 1000] = inputs::uniform(rng, -1.5, 1.5);
    let pair = |(v, g): (f64, [f64; 1000])| (v, g.to_vec());
    agree(
        "extended 1000",
        pair(generated::extended_rosenbrock_1000_grad(&x1000)),
        pair(hand::extended_rosenbrock(&x1000)),
        pair(dual::extended_rosenbrock(&x1000)),
    );
    assert_eq!(
        generated::extended_rosenbrock_1000_grad(&x1000).0,
        generated::extended_rosenbrock_1000(&x1000)
    );
}

/// At 100,000 inputs num-dual would take 100,000 evaluations: by hand only.
#[test]
fn kept_loop_rosenbrock_of_100000_inputs_agrees_by_hand() {
    on_large_stack(|| {
        let x: [f64; 100_000] = inputs::uniform(&mut inputs::rng(), -1.5, 1.5);
        let (value, gradient) = generated::extended_rosenbrock_100000_grad(&x);
        let (hand_value, hand_gradient) = hand::extended_rosenbrock(&x);
        assert_eq!(value, generated::extended_rosenbrock_100000(&x));
        assert_close(&[value], &[hand_value], 1e-12, "value by hand");
        assert_close(&gradient, &hand_gradient, 1e-11, "gradient by hand");
    });
}

/// The loop over the 30 points is kept (`auto`), the loops over 20 components, of a smaller
/// body, unrolled; at d = 10, K = 25 both are kept, with a tape (checked below).
#[test]
fn kept_loop_gmm_agrees_by_hand_and_by_num_dual() {
    let emitted = gradgen_core::emitted_code(generated::GMM_MID).expect("it differentiates");
    assert!(emitted.contains("for i in 0..30"), "{emitted}");
    let emitted = gradgen_core::emitted_code(generated::GMM_D10_K25).expect("it differentiates");
    assert!(emitted.contains("for k in 0..25"), "{emitted}");
    assert!(emitted.contains("tape.pop()"), "{emitted}");
    let g = inputs::gmm::<4, 20, 30, 10>();
    let (v, n) = dual::gmm::<4, 20, 30, 10, 300>(&g.alphas, &g.means, &g.icf, &g.x);
    agree(
        "gmm d = 4, K = 20, N = 30",
        gmm_flat(generated::gmm_4_20_30_grad(
            &g.alphas, &g.means, &g.icf, &g.x,
        )),
        gmm_flat(hand::gmm(&g.alphas, &g.means, &g.icf, &g.x)),
        (v, n.to_vec()),
    );
}

/// GradBench's sizes, N = 1,000: num-dual would take one evaluation per parameter (1,650 and
/// 214,500), so by hand only, which the test instance and the mid size check.
#[test]
fn kept_loop_gmm_of_gradbench_sizes_agrees_by_hand() {
    on_large_stack(|| {
        let g = inputs::gmm::<10, 25, 1000, 55>();
        let (a, m, q, x) = (&g.alphas, &g.means, &g.icf, &g.x);
        let (value, gradient) = gmm_flat(generated::gmm_10_25_1000_grad(a, m, q, x));
        let (hand_value, hand_gradient) = gmm_flat(hand::gmm(a, m, q, x));
        assert_close(&[value], &[hand_value], 1e-12, "d = 10: value by hand");
        assert_close(&gradient, &hand_gradient, 1e-11, "d = 10: gradient by hand");
        let g = inputs::gmm::<64, 100, 1000, 2080>();
        let (a, m, q, x) = (&g.alphas, &g.means, &g.icf, &g.x);
        let (value, gradient) = gmm_flat(generated::gmm_64_100_1000_grad(a, m, q, x));
        let (hand_value, hand_gradient) = gmm_flat(hand::gmm(a, m, q, x));
        assert_close(&[value], &[hand_value], 1e-12, "d = 64: value by hand");
        assert_close(&gradient, &hand_gradient, 1e-11, "d = 64: gradient by hand");
    });
}

/// Each source text is the one `#[grad]` compiled; the operation counts of the gradient stay
/// within CasADi's reverse sweep (BENCHMARKS.md) where there is one to compare with.
#[test]
fn operation_counts_of_the_benchmark_sources() {
    let cases = [
        (generated::ROSENBROCK_2D, 7, 9),
        (generated::EXP_SIN_SQ, 3, 7),
        (generated::EXTENDED_ROSENBROCK_10, 39, 45),
        (generated::EXTENDED_ROSENBROCK_100, 399, 450),
        (generated::CHAINED_ROSENBROCK_10, 71, 81),
        (generated::CHAINED_ROSENBROCK_100, 791, 891),
        (generated::MLP, 132, 251),
    ];
    for (source, function, reference) in cases {
        let counts = gradgen_core::op_counts(source).unwrap_or_else(|e| panic!("{e}\n{source}"));
        assert_eq!(counts.function, function, "{source}");
        assert!(counts.gradient <= reference, "{counts:?}\n{source}");
    }
    for source in [
        generated::LOG_SUM_EXP,
        generated::GMM_SMALL,
        generated::GMM_LARGE,
        generated::GMM_MID,
        generated::GMM_D10_K25,
        generated::GMM_D64_K100,
        generated::EXTENDED_ROSENBROCK_10_KEEP,
        generated::EXTENDED_ROSENBROCK_1000,
        generated::EXTENDED_ROSENBROCK_100000,
        generated::BA_RESIDUAL_0,
        generated::BA_RESIDUAL_1,
    ] {
        let counts = gradgen_core::op_counts(source).unwrap_or_else(|e| panic!("{e}\n{source}"));
        assert!(counts.ratio() <= 3.0, "{counts:?}\n{source}");
    }
}
