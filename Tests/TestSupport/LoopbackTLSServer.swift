import Foundation

/// A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with the `openssl` CLI in
/// a temporary folder (removed on deinit).
public final class TestCertificates: @unchecked Sendable {
    public let folder: String
    /// The CA's certificate (PEM): what a client is given to trust the server.
    public var caFile: String { folder + "/ca.pem" }
    public var certificateFile: String { folder + "/server.pem" }
    public var keyFile: String { folder + "/server.key" }

    public init() throws {
        folder = NSTemporaryDirectory() + "agentshop-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            subjectAltName = IP:127.0.0.1, DNS:localhost
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth

            """.write(toFile: folder + "/server.ext", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                                                 "-subj", "/CN=AgentShop throwaway test CA",
                                                 "-addext", "basicConstraints=critical,CA:TRUE",
                                                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"], in: folder)
        try Self.openssl(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], in: folder)
        try Self.openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                          "-out", "server.pem", "-days", "2", "-extfile", "server.ext"], in: folder)
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    static func openssl(_ arguments: [String], in folder: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "openssl \(arguments.first ?? "") failed (is openssl installed? scripts/setup.sh installs it): \(text)")
        }
    }
}

/// A python3 server on 127.0.0.1 speaking TLS with `TestCertificates`: `.https` (an HTTPS site: `/robots.txt`
/// allows all, every other path is a small HTML page) or `.smtpStartTLS` (SMTP that offers STARTTLS, and
/// AUTH PLAIN only once upgraded; each session is recorded, with whether it was upgraded).
///
/// The python process is killed by `stop()` (call it in a `defer`) or on deinit; it also exits by itself
/// when its stdin closes, so a test process that dies leaves no server behind.
public final class LoopbackTLSServer: @unchecked Sendable {
    public enum Mode: String { case https, smtpStartTLS = "smtp" }

    public struct SMTPSession: Decodable {
        public var tls: Bool
        public var commands: [String]
        public var mailFrom: String?
        public var recipients: [String]
        public var data: String?
        public var user: String?
        public var error: String?
    }

    public let port: Int
    public var base: String { "https://127.0.0.1:\(port)" }
    private let process: Process
    private let stdin: Pipe
    private let folder: String
    private let lock = NSLock()
    private var stopped = false

    public init(_ mode: Mode, certificates: TestCertificates) throws {
        folder = certificates.folder
        let script = folder + "/tls_server.py"
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, mode.rawValue, certificates.certificateFile, certificates.keyFile, folder + "/sessions.jsonl"]
        stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line is the port; read it off the pipe with a deadline (a python that fails prints nothing).
        let reader = stdout.fileHandleForReading
        var line = Data()
        let deadline = Date().addingTimeInterval(20)
        let descriptor = reader.fileDescriptor
        while !line.contains(0x0A) && Date() < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            var byte: UInt8 = 0
            if read(descriptor, &byte, 1) != 1 { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            process.waitUntilExit()
            throw TestCertificates.Failure(description: "the python3 TLS server did not start (python3 with ssl needed)")
        }
        self.port = port
    }

    /// Kills the server and waits for it.
    public func stop() {
        let first: Bool = lock.withLock { defer { stopped = true }; return !stopped }
        guard first else { return }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? stdin.fileHandleForWriting.close()
    }

    deinit { stop() }

    /// The SMTP sessions so far, in the order they ended.
    public var sessions: [SMTPSession] {
        guard let text = try? String(contentsOfFile: folder + "/sessions.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(SMTPSession.self, from: Data($0.utf8)) }
    }

    /// The SMTP sessions once at least `count` have ended. A client that gave up (a refused handshake)
    /// returns before the server has written the session down, so a test waits for it, up to `timeout`.
    public func sessions(atLeast count: Int, timeout: TimeInterval = 10) -> [SMTPSession] {
        let deadline = Date().addingTimeInterval(timeout)
        var found = sessions
        while found.count < count && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            found = sessions
        }
        return found
    }

    /// The number of HTTPS requests answered for `path`.
    public func requests(_ path: String) -> Int {
        guard let text = try? String(contentsOfFile: folder + "/sessions.jsonl", encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").filter { $0 == "GET " + path }.count
    }

    static let script = #"""
    import json, os, socketserver, ssl, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    mode, cert, key, log_path = sys.argv[1:5]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    log_lock = threading.Lock()

    def log(line):
        with log_lock, open(log_path, "a") as f:
            f.write(line + "\n")

    def exit_when_stdin_closes():
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()

    class Page(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            log("GET " + self.path)
            if self.path == "/robots.txt":
                body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
            else:
                body = b"<html><head><title>Over TLS</title></head><body><h1>served over TLS</h1></body></html>"
                kind = "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Site(ThreadingHTTPServer):
        request_queue_size = 128
        daemon_threads = True

        def get_request(self):
            sock, address = self.socket.accept()
            return context.wrap_socket(sock, server_side=True), address

        def handle_error(self, request, client_address):
            pass

    class Mail(socketserver.BaseRequestHandler):
        def handle(self):
            sock = self.request
            stream = sock.makefile("rwb")
            session = {"tls": False, "commands": [], "mailFrom": None, "recipients": [], "data": None, "user": None, "error": None}

            def send(text):
                stream.write(text.encode() + b"\r\n")
                stream.flush()

            def read():
                line = stream.readline()
                return None if not line else line.decode("utf-8", "replace").rstrip("\r\n")

            try:
                send("220 loopback ESMTP ready")
                while True:
                    line = read()
                    if line is None:
                        break
                    session["commands"].append(line)
                    upper = line.upper()
                    if upper.startswith("EHLO"):
                        lines = ["loopback", "AUTH PLAIN" if session["tls"] else "STARTTLS"]
                        for i, text in enumerate(lines):
                            send("250" + (" " if i == len(lines) - 1 else "-") + text)
                    elif upper == "STARTTLS" and not session["tls"]:
                        send("220 ready to start TLS")
                        stream.close()
                        sock = context.wrap_socket(sock, server_side=True)
                        stream = sock.makefile("rwb")
                        session["tls"] = True
                    elif upper.startswith("AUTH PLAIN") and session["tls"]:
                        parts = line.split(" ")
                        encoded = parts[2] if len(parts) > 2 else None
                        if encoded is None:
                            send("334 ")
                            encoded = read() or ""
                        import base64
                        fields = base64.b64decode(encoded).split(b"\0")
                        session["user"] = fields[1].decode() if len(fields) == 3 else None
                        send("235 accepted")
                    elif upper.startswith("MAIL FROM:"):
                        session["mailFrom"] = line[10:].strip()
                        send("250 ok")
                    elif upper.startswith("RCPT TO:"):
                        session["recipients"].append(line[8:].strip())
                        send("250 ok")
                    elif upper == "DATA":
                        send("354 end with a dot")
                        data = []
                        while True:
                            row = read()
                            if row is None or row == ".":
                                break
                            data.append(row[1:] if row.startswith("..") else row)
                        session["data"] = "\n".join(data)
                        log(json.dumps(session))  # kept before the reply: the client may return at once
                        session["logged"] = True
                        send("250 queued")
                    elif upper == "QUIT":
                        send("221 bye")
                        break
                    else:
                        send("502 not here")
            except (OSError, ValueError) as error:
                session["error"] = str(error)
            if not session.pop("logged", False):
                log(json.dumps(session))

    class MailServer(socketserver.ThreadingTCPServer):
        request_queue_size = 128
        daemon_threads = True
        allow_reuse_address = True

    server = Site(("127.0.0.1", 0), Page) if mode == "https" else MailServer(("127.0.0.1", 0), Mail)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#
}
