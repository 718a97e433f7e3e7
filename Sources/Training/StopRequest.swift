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
    /// The signal that set the flag (0: none).
    package var signal: Int32 { isSet ? Int32(signo.pointee) : 0 }
    package var signalName: String { Self.name(signal) }

    package static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGUSR1: "SIGUSR1"
        default: "SIGINT"
        }
    }

    /// The signals that stop training gracefully. SIGUSR1 is the one `mpirun` forwards to every
    /// rank as it is (Ctrl-C or SIGTERM to mpirun reach the ranks as SIGTERM only after
    /// odls_base_sigkill_timeout seconds, and SIGKILL follows as long again); Slurm's
    /// `--signal=USR1@secs` sends it before a job's time limit.
    package static let signals: [Int32] = [SIGINT, SIGTERM, SIGUSR1]

    /// Installs handlers for `signals` that set the flag; a second signal exits at once.
    package func installHandlers() {
        Self.shared = UncheckedSendable((flag, signo))
        let handler: @convention(c) (Int32) -> Void = { sig in
            guard let s = StopRequest.shared else { return }
            if s.value.0.pointee != 0 { _exit(128 + sig) }
            s.value.0.pointee = 1
            s.value.1.pointee = sig
        }
        var set = sigset_t()
        sigemptyset(&set)
        for sig in Self.signals {
            Glibc.signal(sig, handler)
            sigaddset(&set, sig)
        }
        // A parent may have started us with these signals blocked (the mask is inherited, e.g. from a
        // thread pool's thread); unblock them, or the handlers would never run.
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    nonisolated(unsafe) static var shared: UncheckedSendable<(UnsafeMutablePointer<sig_atomic_t>, UnsafeMutablePointer<sig_atomic_t>)>?
}
