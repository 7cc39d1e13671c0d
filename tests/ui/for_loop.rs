use gradgen::grad;

#[grad]
fn sum_of_three(x: f64) -> f64 {
    for i in 0..3 {
        println!("{i}");
    }
    x * 3.0
}

fn main() {}
