//! Loopback ports for servers a test starts, or names before they start.

use std::net::TcpListener;

/// A loopback port that was free a moment ago (the OS's pick; bind it right after).
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct loopback ports free right now (all held at once while picked).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("a bound address").port())
        .collect()
}
