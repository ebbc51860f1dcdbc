//! The sequential model: one item at a time. It runs each item as an async
//! task like the default model, but admits the next one only when nothing
//! is in flight, so throughput is one over the latency (Little's law with
//! one in flight).

/// Items that may start now: one when nothing is in flight, else none.
pub fn room(room: u64, in_flight: u64) -> u64 {
    if in_flight == 0 { room.min(1) } else { 0 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_at_a_time() {
        assert_eq!(super::room(50, 0), 1);
        assert_eq!(super::room(50, 1), 0);
        assert_eq!(super::room(0, 0), 0, "a pause still pauses");
        assert_eq!(
            super::room(50, 30),
            0,
            "items left by another model finish first"
        );
    }
}
