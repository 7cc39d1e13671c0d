use gradgen::grad;

struct Model {
    _scale: f64,
}

impl Model {
    #[grad]
    fn predict(&self, x: f64) -> f64 {
        x * 2.0
    }
}

fn main() {
    // The original method is still emitted: this call compiles.
    let _ = Model { _scale: 1.0 }.predict(2.0);
}
