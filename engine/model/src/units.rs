//! Durations and sizes as an operator reads them.

use std::time::Duration;

/// Formats a duration the way operators write them: `60 s`, `10 min`, `1.5 s`, `250 ms`.
pub fn humanize(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(60_000) && ms >= 120_000 {
        if ms.is_multiple_of(3_600_000) {
            format!("{} h", ms / 3_600_000)
        } else {
            format!("{} min", ms / 60_000)
        }
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Formats a size the way the pipeline file writes them: `8GiB`, `512MiB`, `1500B`.
pub fn humanize_bytes(n: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size && n.is_multiple_of(size) {
            return format!("{}{unit}", n / size);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_the_pipeline_writes_them() {
        assert_eq!(humanize_bytes(8 << 30), "8GiB");
        assert_eq!(humanize_bytes(1536 << 20), "1536MiB");
        assert_eq!(humanize_bytes(16 << 10), "16KiB");
        assert_eq!(humanize_bytes(1500), "1500B");
    }

    #[test]
    fn durations_read_like_an_operator_writes_them() {
        assert_eq!(humanize(Duration::from_secs(60)), "60 s");
        assert_eq!(humanize(Duration::from_secs(600)), "10 min");
        assert_eq!(humanize(Duration::from_secs(45)), "45 s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(humanize(Duration::from_millis(250)), "250 ms");
        assert_eq!(humanize(Duration::from_secs(7200)), "2 h");
    }
}
