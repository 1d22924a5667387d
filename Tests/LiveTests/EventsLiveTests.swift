import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `dmstack events` with real sinks: a hook that fails twice then succeeds, a dmstack killed
/// with SIGKILL in the middle of a dispatch, journal and syslog datagrams on sockets this test
/// listens on, and an Alertmanager endpoint served by this test. No devices: host and VM.
@Suite("Live: notification sinks", .serialized)
struct EventsLiveTests {
    /// A scratch directory with a state directory and `config.yaml` holding `sinks`.
    /// A state directory and a config with `sinks`, where DIR stands for that directory.
    func setUp(_ sinks: String, cleanup: inout [String]) throws -> (dir: String, options: String) {
        let dir = try Live.temporary("/tmp/dmstack-events-XXXXXX", recursive: true, cleanup: &cleanup)
        try "sinks:\n\(sinks.replacingOccurrences(of: "DIR", with: dir))\nretry: {initial: 1s, max: 1s, attempts: 10}\n"
            .write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        return (dir, "--config \(dir)/config.yaml --state-dir \(dir)/state")
    }

    func script(_ path: String, _ body: String) throws {
        try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    func status(_ command: String) -> Int32 {
        do { try Live.sh(command); return 0 } catch let e as Live.CommandError { return e.status } catch { return -1 }
    }

    func deliveries(_ options: String) throws -> [[String: Any]] {
        let events = try Live.json("events list --json \(options.replacingOccurrences(of: #"--config \S+ "#, with: "", options: .regularExpression))")["events"] as! [[String: Any]]
        return events.flatMap { e in (e["deliveries"] as! [[String: Any]]).map { $0.merging(["key": e["key"]!]) { a, _ in a } } }
    }

    @Test func aHookThatFailsTwiceIsDeliveredOnceOnTheThirdAttempt() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (dir, options) = try setUp("""
              - {type: jsonl, path: DIR/events.jsonl}
              - {type: exec, name: pager, argv: [DIR/hook, --flag], timeout: 5s}
            """, cleanup: &cleanup)
        try script("\(dir)/hook", """
            n=$(cat \(dir)/count 2>/dev/null || echo 0); echo $((n+1)) > \(dir)/count
            [ "$n" -ge 2 ] || { echo "refused attempt $DMSTACK_ATTEMPT" >&2; exit 7; }
            [ "$1" = --flag ] || exit 9
            cat > \(dir)/stdin.json
            echo "$DMSTACK_EVENT_KEY $DMSTACK_EVENT_KIND $DMSTACK_ATTEMPT $DMSTACK_SINK" >> \(dir)/delivered
            """)
        #expect(status("\(Live.dmstack) events test --message hello \(options)") == 2)
        let key = try String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8).components(separatedBy: "\"key\":\"")[1].prefix(40)
        #expect(status("\(Live.dmstack) events retry \(options)") == 2)
        var d = try deliveries(options).first { $0["sink"] as? String == "pager" }!
        #expect(d["state"] as? String == "pending" && d["attempts"] as? Int == 2 && d["last_status"] as? Int == 7)
        #expect((d["last_error"] as? String)?.hasSuffix("exited with status 7: refused attempt 2") == true)
        #expect(status("\(Live.dmstack) events retry \(options)") == 0)
        #expect(status("\(Live.dmstack) events retry \(options)") == 0)
        d = try deliveries(options).first { $0["sink"] as? String == "pager" }!
        #expect(d["state"] as? String == "delivered" && d["attempts"] as? Int == 3 && d["delivered_at"] != nil)
        // Delivered exactly once, on the third attempt, with the key, and the JSON on stdin.
        #expect(try String(contentsOfFile: "\(dir)/delivered", encoding: .utf8) == "\(key) test 3 pager\n")
        let stdin = try Live.document(String(contentsOfFile: "\(dir)/stdin.json", encoding: .utf8))
        #expect(stdin["key"] as? String == String(key) && stdin["summary"] as? String == "hello")
        // The JSON lines sink took it once, at once.
        #expect(try String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8).split(separator: "\n").count == 1)
        let j = try deliveries(options).first { $0["sink"] as? String == "jsonl-1" }!
        #expect(j["state"] as? String == "delivered" && j["attempts"] as? Int == 1)
    }

    @Test func aDispatcherKilledMidDeliveryLosesNothing() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (dir, options) = try setUp("  - {type: exec, name: hook, argv: [DIR/hook], timeout: 60s}\n  - {type: jsonl, path: DIR/events.jsonl}", cleanup: &cleanup)
        // The hook hangs while `stall` exists (after saying so), else records the key.
        try script("\(dir)/hook", """
            cat > /dev/null
            if [ -e \(dir)/stall ]; then echo $$ > \(dir)/pid.tmp; mv \(dir)/pid.tmp \(dir)/hook.pid; exec sleep 60; fi
            echo "$DMSTACK_EVENT_KEY" >> \(dir)/delivered
            """)
        // Three events recorded while the hook works, then one dispatch that hangs on the fourth.
        for i in 1...3 { #expect(status("\(Live.dmstack) events test --message e\(i) \(options)") == 0) }
        try Live.sh("touch \(dir)/stall")
        let p = try TestProcess.start(Live.dmstack, ["events", "test", "--message", "e4"] + options.split(separator: " ").map(String.init))
        var waited = 0
        while !FileManager.default.fileExists(atPath: "\(dir)/hook.pid") && waited < 300 { usleep(100_000); waited += 1 }
        #expect(FileManager.default.fileExists(atPath: "\(dir)/hook.pid"), "the hook never started")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        let hook = try String(contentsOfFile: "\(dir)/hook.pid", encoding: .utf8).trimmed
        try Live.sh("kill -KILL -- -\(hook); rm \(dir)/stall")
        // The fourth event is in the outbox, its hook delivery claimed by a dead process.
        var rows = try deliveries(options)
        #expect(rows.count == 8)
        #expect(rows.filter { $0["state"] as? String == "delivered" }.count == 6)
        // The next run delivers it; nothing else is sent twice.
        #expect(status("\(Live.dmstack) events retry \(options)") == 0)
        rows = try deliveries(options)
        #expect(rows.allSatisfy { $0["state"] as? String == "delivered" })
        let delivered = try String(contentsOfFile: "\(dir)/delivered", encoding: .utf8).split(separator: "\n")
        #expect(delivered.count == 4 && Set(delivered).count == 4)
        #expect(try String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8).split(separator: "\n").count == 4)
    }

    @Test func aHookPastItsTimeoutIsKilledAndStaysPending() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (dir, options) = try setUp("  - {type: exec, name: slow, argv: [DIR/hook], timeout: 1s}", cleanup: &cleanup)
        // It closes its output at once (so only the deadline can end the wait), then hangs.
        try script("\(dir)/hook", "exec >/dev/null 2>&1 </dev/null; sleep 30 & echo $! > \(dir)/hook.pid; wait; touch \(dir)/survived")
        #expect(status("\(Live.dmstack) events test \(options)") == 2)
        let d = try deliveries(options)[0]
        #expect(d["state"] as? String == "pending" && (d["last_error"] as? String)?.contains("timed out after 1.0 s and was killed") == true)
        // Killed with its process group: its own child (the sleep) does not run on either.
        let pid = try String(contentsOfFile: "\(dir)/hook.pid", encoding: .utf8).trimmed
        usleep(200_000)
        #expect(kill(pid_t(pid)!, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") == true)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/survived"))
    }

    @Test func aHookThatExitsLeavingAChildHoldingItsOutputIsDelivered() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (dir, options) = try setUp("  - {type: exec, name: bg, argv: [DIR/hook], timeout: 10s}", cleanup: &cleanup)
        try script("\(dir)/hook", "cat > /dev/null; sleep 20 & echo $! > \(dir)/child.pid; exit 0")
        cleanup.append("kill -KILL $(cat \(dir)/child.pid) 2>/dev/null || true")
        // Waiting for the child's output to close would run into the 10 s timeout: failed, pending.
        #expect(status("\(Live.dmstack) events test \(options)") == 0)
        #expect(try deliveries(options)[0]["state"] as? String == "delivered" && deliveries(options)[0]["attempts"] as? Int == 1)
    }

    /// A Unix datagram socket at `path`, and a way to read one datagram with a timeout.
    final class DatagramListener {
        let fd: Int32
        init(_ path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &a.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
            let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            guard rc == 0 else { throw Live.CommandError(command: "bind \(path)", status: errno, output: "") }
        }
        deinit { close(fd) }
        func receive() -> [UInt8]? {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 10_000) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 ? Array(buffer[0..<n]) : nil
        }
    }

    @Test func journalAndSyslogGetStructuredFields() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (dir, options) = try setUp("""
              - {type: journal, socket: DIR/journal.sock}
              - {type: syslog, socket: DIR/syslog.sock, facility: local3}
            """, cleanup: &cleanup)
        let journal = try DatagramListener("\(dir)/journal.sock"), syslog = try DatagramListener("\(dir)/syslog.sock")
        let key = try Live.sh("\(Live.dmstack) events test --message 'two words' \(options)").trimmed
        let j = try #require(journal.receive())
        // Native protocol: FIELD=value lines (the payload has no newline, so no binary form).
        let fields = Dictionary(String(decoding: j, as: UTF8.self).split(separator: "\n").map {
            let parts = $0.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }) { a, _ in a }
        #expect(fields["MESSAGE"] == "dmstack: test -: two words")
        #expect(fields["PRIORITY"] == "6" && fields["SYSLOG_IDENTIFIER"] == "dmstack")
        #expect(fields["DMSTACK_EVENT_KEY"] == key && fields["DMSTACK_EVENT_KIND"] == "test" && fields["DMSTACK_SINK"] == "journal-1")
        let event = try Live.document(try #require(fields["DMSTACK_EVENT"]))
        #expect(event["key"] as? String == key)
        let s = String(decoding: try #require(syslog.receive()), as: UTF8.self)
        // local3 (19) * 8 + info (6) = 158.
        #expect(s.hasPrefix("<158>"))
        #expect(s.contains("dmstack[") && s.contains("[dmstack@32473 key=\"\(key)\" kind=\"test\"") && s.hasSuffix("] test -: two words"))
    }

    @Test func alertmanagerGetsAnAlertAndIsRetriedAfterAServerError() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let server = try HTTPServer(statuses: [503, 200])
        let (_, options) = try setUp("  - {type: alertmanager, url: 'http://127.0.0.1:\(server.port)/api/v2/alerts', labels: {team: storage}, timeout: 5s}", cleanup: &cleanup)
        #expect(status("\(Live.dmstack) events test --message am \(options)") == 2)
        var d = try deliveries(options)[0]
        #expect(d["state"] as? String == "pending" && d["last_status"] as? Int == 503)
        #expect(status("\(Live.dmstack) events retry \(options)") == 0)
        d = try deliveries(options)[0]
        #expect(d["state"] as? String == "delivered" && d["last_status"] as? Int == 200)
        let requests = server.finish()
        #expect(requests.count == 2)
        for r in requests {
            #expect(r.head.hasPrefix("POST /api/v2/alerts HTTP/1.1"))
            #expect(r.head.lowercased().contains("content-type: application/json"))
            let alerts = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as! [[String: Any]]
            let labels = alerts[0]["labels"] as! [String: String]
            #expect(labels["alertname"] == "DmstackTest" && labels["team"] == "storage" && labels["dmstack_key"] == d["key"] as? String)
            #expect((alerts[0]["annotations"] as! [String: String])["summary"] == "test - 0+0: am")
            #expect(alerts[0]["startsAt"] is String)
        }
        // Unreachable: a clear error, still pending.
        let (_, closed) = try setUp("  - {type: alertmanager, url: 'http://127.0.0.1:1/api/v2/alerts', timeout: 2s}", cleanup: &cleanup)
        #expect(status("\(Live.dmstack) events test \(closed)") == 2)
        #expect((try deliveries(closed)[0]["last_error"] as? String)?.hasPrefix("POST http://127.0.0.1:1/api/v2/alerts: ") == true)
    }

    @Test func aBadConfigurationIsOneLineAndNothingIsRecorded() throws {
        var cleanup: [String] = []
        defer { Live.clean(cleanup) }
        let (dir, options) = try setUp("  - {type: exec}", cleanup: &cleanup)
        do { try Live.sh("\(Live.dmstack) events test \(options)"); Issue.record("accepted a bad configuration") } catch let e as Live.CommandError {
            #expect(e.status == 65)
            #expect(e.output == "dmstack: \(dir)/config.yaml:2: sinks[0].argv: missing (required): the program and its arguments, as a list\n")
        }
        do { try Live.sh("\(Live.dmstack) events retry --config \(dir)/missing.yaml --state-dir \(dir)/state"); Issue.record("accepted a missing file") } catch let e as Live.CommandError {
            #expect(e.status == 1 && e.output.hasPrefix("dmstack: cannot open \(dir)/missing.yaml: No such file") && e.output.split(separator: "\n").count == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/state"))
    }
}

/// A one-connection-at-a-time HTTP/1.1 server on 127.0.0.1 for the Alertmanager sink: answers
/// each request with the next of `statuses`, and keeps what it got.
final class HTTPServer: @unchecked Sendable {
    struct Request { var head: String; var body: String }
    let fd: Int32
    let port: UInt16
    private var requests: [Request] = []
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()

    init(statuses: [Int]) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &size) == 0 }
        }
        guard ok else { throw Live.CommandError(command: "listen", status: errno, output: "") }
        port = UInt16(bigEndian: a.sin_port)
        Thread.detachNewThread { [self] in
            for status in statuses {
                let c = accept(fd, nil, nil)
                guard c >= 0 else { break }
                var data: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let text = String(decoding: data, as: UTF8.self)
                    if let end = text.range(of: "\r\n\r\n") {
                        let head = String(text[..<end.lowerBound])
                        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                        let body = String(text[end.upperBound...])
                        if body.utf8.count >= length {
                            lock.lock(); requests.append(Request(head: head, body: body)); lock.unlock()
                            break
                        }
                    }
                    let n = recv(c, &buffer, buffer.count, 0)
                    if n <= 0 { break }
                    data += buffer[0..<n]
                }
                let reply = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Service Unavailable")\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
                _ = reply.withCString { send(c, $0, strlen($0), 0) }
                close(c)
            }
            done.signal()
        }
    }

    /// The requests received (waits up to 10 s for all of them).
    func finish() -> [Request] {
        _ = done.wait(timeout: .now() + 10)
        close(fd)
        lock.lock(); defer { lock.unlock() }
        return requests
    }
}
