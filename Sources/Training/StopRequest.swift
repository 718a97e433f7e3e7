import IO
#if canImport(Glibc)
import Glibc
#endif

/// A stop flag that signal handlers may set (an atomic word; the handler does nothing else).
package final class StopRequest: @unchecked Sendable {
    private let flag = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
    private let signo = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)

    init() {
        flag.initialize(to: 0)
        signo.initialize(to: 0)
    }

    package var isSet: Bool { flag.pointee != 0 }
    package var signalName: String { signo.pointee == SIGTERM ? "SIGTERM" : "SIGINT" }

    /// Installs SIGINT and SIGTERM handlers that set the flag; a second signal exits at once.
    package func installHandlers() {
        Self.shared = UncheckedSendable((flag, signo))
        let handler: @convention(c) (Int32) -> Void = { sig in
            guard let s = StopRequest.shared else { return }
            if s.value.0.pointee != 0 { _exit(128 + sig) }
            s.value.0.pointee = 1
            s.value.1.pointee = sig
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have started us with these signals blocked (the mask is inherited, e.g. from a
        // thread pool's thread); unblock them, or the handlers would never run.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    nonisolated(unsafe) static var shared: UncheckedSendable<(UnsafeMutablePointer<sig_atomic_t>, UnsafeMutablePointer<sig_atomic_t>)>?
}
