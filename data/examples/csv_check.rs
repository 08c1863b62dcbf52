//! The CSV check's own speed (`CsvCheck`, what every CSV upload runs as it arrives): 300 MB
//! of text like `scripts/bench-upload`'s file, made in memory, checked in 64 KiB pieces
//! three times. `cargo run --release -p stayput-data --example csv_check`.

use stayput_data::ingest::CsvCheck;
fn main() {
    let cities = ["Oslo", "Rome", "Lima", "Pune", "Kyiv", "Doha"];
    let mut text = String::from("id,date,city,temp,count\n");
    let mut i = 0u64;
    let mut r = 12345u64;
    while text.len() < 300_000_000 {
        r = r
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let t = (r >> 33) as f64 / (1u64 << 31) as f64 * 75.0 - 30.0;
        text.push_str(&format!(
            "{i},2020-{:02}-{:02},{},{t:.3},{}\n",
            1 + i % 12,
            1 + i % 28,
            cities[(i % 6) as usize],
            (r >> 20) % 1_000_000
        ));
        i += 1;
    }
    let bytes = text.as_bytes();
    for _ in 0..3 {
        let start = std::time::Instant::now();
        let mut c = CsvCheck::new(b',');
        for part in bytes.chunks(64 << 10) {
            c.feed(part).expect("a good file");
        }
        c.finish().expect("a good file");
        let s = start.elapsed().as_secs_f64();
        println!(
            "{} rows, {:.0} MB in {:.3} s = {:.0} MB/s",
            c.rows(),
            bytes.len() as f64 / 1e6,
            s,
            bytes.len() as f64 / 1e6 / s
        );
    }
}
