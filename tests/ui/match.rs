use gradgen::grad;

#[grad]
fn abs_by_hand(x: f64) -> f64 {
    match x.is_sign_negative() {
        true => -x,
        false => x,
    }
}

fn main() {}
