//! The Redis tier next to the disk tier (`scripts/bench-redis`): a frame of 1e6 and of
//! 1e7 rows (one f64 column, as the benchmark's) written and read back through each,
//! median of five. Prints one line of JSON per size and tier.
//!
//! `STAYPUT_REDIS_URL=redis://127.0.0.1:PORT cargo run --release -p stayput-cache \
//!   --features redis --example redis_tier`

use std::sync::Arc;
use std::time::{Duration, Instant};

use polars::prelude::*;
use polars_io::ipc::IpcWriter;
use polars_io::SerWriter;
use stayput_cache::{
    ByteSize, ColdTier, DiskTier, FrameKey, RedisTier, SessionKey, SharedSettings, SharedStore,
};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("STAYPUT_REDIS_URL").map_err(|_| "set STAYPUT_REDIS_URL")?;
    let mut settings = SharedSettings::new(url.clone());
    settings.frame_max = 1 << 30;
    settings.command_timeout = Duration::from_secs(30);
    // Both tiers behind the same trait.
    let redis = RedisTier::new(SharedStore::connect(settings).await?);
    let dir = tempfile::tempdir()?;
    let disk = DiskTier::open(dir.path(), ByteSize(8 << 30))?;
    for rows in [1_000_000u64, 10_000_000] {
        let values: Vec<f64> = (0..rows).map(|i| (i as f64 * 0.618_033_988_75).fract()).collect();
        let frame = Arc::new(df!("rnd" => values)?);
        let bytes = frame.estimated_size();
        let key = FrameKey {
            session: SessionKey::random(),
            id: uuid::Uuid::new_v4(),
        };
        let (mut put_r, mut get_r, mut put_d, mut get_d) = (vec![], vec![], vec![], vec![]);
        let mut stages = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            redis.store(key, Arc::clone(&frame)).await?;
            put_r.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let (back, read) = redis.load_timed(key).await?;
            let back = back.ok_or("not in Redis")?;
            get_r.push(t.elapsed().as_secs_f64() * 1e3);
            stages.push(read);
            assert_eq!(back.height() as u64, rows);
            let t = Instant::now();
            disk.store(key, Arc::clone(&frame)).await?;
            put_d.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let back = disk.load(key).await?.ok_or("not on disk")?;
            // Memory-mapped: touch every value, as a reader would.
            let sum: f64 = back.column("rnd")?.f64()?.into_no_null_iter().sum();
            get_d.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(sum > 0.0);
        }
        redis.remove(key).await?;
        disk.remove(key).await?;
        let floor = floor_get_ms(&url, frame_ipc_bytes(&frame)?)?;
        // The Redis read's stages, each the median of its own.
        let stage = |f: fn(&stayput_cache::ReadStages) -> f64| median(stages.iter().map(f).collect());
        println!(
            "{{\"rows\":{rows},\"tier\":\"redis\",\"get_stages_ms\":{{\"manifest\":{:.1},\"fetch\":{:.1},\"decode\":{:.1},\"sorted\":{:.1}}},\"in_place\":{}}}",
            stage(|s| s.manifest_ms),
            stage(|s| s.fetch_ms),
            stage(|s| s.decode_ms),
            stage(|s| s.sorted_ms),
            stages.iter().all(|s| s.in_place)
        );
        println!(
            "{{\"rows\":{rows},\"floor\":\"one GET of {} bytes read whole into a new buffer\",\"get_ms\":{floor:.1}}}",
            frame_ipc_bytes(&frame)?
        );
        for (tier, put, get) in [("redis", put_r, get_r), ("disk", put_d, get_d)] {
            println!(
                "{{\"rows\":{rows},\"bytes\":{bytes},\"tier\":\"{tier}\",\"put_ms\":{:.1},\"get_ms\":{:.1}}}",
                median(put),
                median(get)
            );
        }
    }
    // A frame like an upload's: numbers, a flag and a text column, 1e6 rows. The numbers
    // and the flag are built in place, the strings copied out.
    let rows = 1_000_000usize;
    let upload = Arc::new(df!(
        "x" => (0..rows).map(|i| i as f64 * 0.5).collect::<Vec<_>>(),
        "n" => (0..rows as i64).collect::<Vec<_>>(),
        "flag" => (0..rows).map(|i| i % 3 == 0).collect::<Vec<_>>(),
        "name" => (0..rows).map(|i| format!("row {i}")).collect::<Vec<_>>(),
    )?);
    let key = FrameKey {
        session: SessionKey::random(),
        id: uuid::Uuid::new_v4(),
    };
    let (mut put, mut get, mut in_place) = (vec![], vec![], true);
    for _ in 0..5 {
        let t = Instant::now();
        redis.store(key, Arc::clone(&upload)).await?;
        put.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let (back, read) = redis.load_timed(key).await?;
        get.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(back.ok_or("not in Redis")?.height(), rows);
        in_place &= read.in_place;
    }
    redis.remove(key).await?;
    println!(
        "{{\"rows\":{rows},\"frame\":\"f64, i64, bool, string\",\"bytes\":{},\"tier\":\"redis\",\"put_ms\":{:.1},\"get_ms\":{:.1},\"all_in_place\":{in_place}}}",
        upload.estimated_size(),
        median(put),
        median(get)
    );
    Ok(())
}

/// Bytes of the frame as Arrow IPC (what the Redis tier writes).
fn frame_ipc_bytes(frame: &DataFrame) -> Result<usize, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    IpcWriter::new(&mut out).finish(&mut frame.clone())?;
    Ok(out.len())
}

/// The floor, timed the way a client reads a value whole (redis-benchmark's own
/// "latency" stops at the first byte of the reply): one `SET` of `bytes` bytes, then the
/// median of five `GET`s, each from sending the command to the last byte read into a
/// new buffer of the value's size. One plain connection, no decoding.
fn floor_get_ms(url: &str, bytes: usize) -> Result<f64, Box<dyn std::error::Error>> {
    use std::io::{BufRead, BufReader, Read, Write};
    let addr = url.trim_start_matches("redis://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let value = vec![b'v'; bytes];
    stream.write_all(format!("*3\r\n$3\r\nSET\r\n$5\r\nfloor\r\n${bytes}\r\n").as_bytes())?;
    stream.write_all(&value)?;
    stream.write_all(b"\r\n")?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        stream.write_all(b"*2\r\n$3\r\nGET\r\n$5\r\nfloor\r\n")?;
        line.clear();
        reader.read_line(&mut line)?;
        let len: usize = line.trim_end().trim_start_matches('$').parse()?;
        let mut value = vec![0u8; len + 2];
        reader.read_exact(&mut value)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(len, bytes);
    }
    Ok(median(times))
}
