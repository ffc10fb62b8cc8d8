//! A `redis-server` a test starts for itself. A file of its own so that the
//! crate's unit tests (the fleet script's, in `src/driver/redis/`) include
//! it too.
#![allow(dead_code)]

/// A `redis-server` of the test's own on a free 127.0.0.1 port, without
/// persistence, stopped when dropped.
pub struct RedisServer {
    child: std::process::Child,
    port: u16,
    /// `redis://127.0.0.1:PORT/`.
    pub url: String,
}

impl RedisServer {
    /// Starts one and waits (up to 5 s) until it answers; `None`, with a
    /// line on stderr, when `redis-server` is not installed (`.ci/run`
    /// installs it).
    pub fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let Ok(child) = Self::spawn(port) else {
            eprintln!(
                "redis-server is not installed: this test needs it (apt-get install redis-server)"
            );
            return None;
        };
        let server = Self {
            child,
            port,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        server.wait_ready();
        Some(server)
    }

    fn spawn(port: u16) -> std::io::Result<std::process::Child> {
        std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
    }

    fn wait_ready(&self) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < until,
                "redis-server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Starts it again on the same port after [`kill`](Self::kill), empty.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn(self.port).expect("redis-server ran before");
        self.wait_ready();
    }

    /// Stops it now (a crash, as far as its clients can tell).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
