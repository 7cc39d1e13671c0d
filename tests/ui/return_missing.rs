use gradgen::grad;

#[grad]
fn nothing(x: f64) {
    let _y = x * 2.0;
}

fn main() {}
