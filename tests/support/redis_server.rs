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
    /// line on stderr, when `redis-server` is not installed (a panic when
    /// `STEADFAST_REQUIRE_REDIS` is set, as `.ci/run` sets it). A port
    /// another test took between being found free and being bound is given
    /// up for another, so that no two tests share a server.
    pub fn start() -> Option<Self> {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .ok()?;
            let Ok(child) = Self::spawn(port) else {
                // CI installs it and says so: there, a missing server fails.
                assert!(
                    std::env::var_os("STEADFAST_REQUIRE_REDIS").is_none(),
                    "redis-server is not installed, and STEADFAST_REQUIRE_REDIS is set"
                );
                eprintln!(
                    "redis-server is not installed: this test needs it (apt-get install redis-server)"
                );
                return None;
            };
            let mut server = Self {
                child,
                port,
                url: format!("redis://127.0.0.1:{port}/"),
            };
            if server.wait_ready() {
                return Some(server);
            }
            server.kill();
        }
        panic!("redis-server did not start on any of five free ports");
    }

    fn spawn(port: u16) -> std::io::Result<std::process::Child> {
        std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
    }

    /// Whether this server, and not another on its port, answers within
    /// 5 s: its `INFO` names the child's process id.
    fn wait_ready(&mut self) -> bool {
        use std::io::{Read, Write};
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let pid = format!("process_id:{}\r\n", self.child.id());
        while std::time::Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false; // it could not bind the port
            }
            if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(1)));
                if c.write_all(b"INFO server\r\n").is_err() {
                    return false;
                }
                // The answer may come in pieces: read until it names this
                // child, or ends (another server's answers until the read
                // times out).
                let (mut info, mut chunk) = (Vec::new(), [0; 4096]);
                loop {
                    if String::from_utf8_lossy(&info).contains(&pid) {
                        return true;
                    }
                    match c.read(&mut chunk) {
                        Ok(n) if n > 0 && info.len() < 65_536 => {
                            info.extend_from_slice(&chunk[..n]);
                        }
                        _ => return false,
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// Starts it again on the same port after [`kill`](Self::kill), empty.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn(self.port).expect("redis-server ran before");
        assert!(self.wait_ready(), "redis-server did not start again");
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
