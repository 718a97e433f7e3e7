import CMPIDyn
import Foundation
import IO

/// How this process was started: alone, or as one rank of an MPI job.
package enum Launch {
    /// The communicator for this process. Under an MPI launcher (`mpirun`, `srun --mpi=pmix|pmi2`)
    /// Open MPI is loaded and initialized; otherwise MPI is never touched (a plain run needs no MPI
    /// installed and pays nothing for it). `srun` without a PMI plugin would start every task as a
    /// job of its own, each training alone: that is refused.
    package static func communicator(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any Communicator {
        if nm_mpi_launcher() != 0 { return try MPICommunicator() }
        if let tasks = environment["SLURM_STEP_NUM_TASKS"].flatMap(Int.init), tasks > 1, environment["SLURM_PROCID"] != nil {
            throw EmbedError("""
                srun started \(tasks) tasks without an MPI plugin, so each would train alone. \
                Start them with `srun --mpi=pmix` (or --mpi=pmi2; `srun --mpi=list` shows what this cluster has), \
                or with mpirun inside the allocation.
                """)
        }
        return SingleProcess()
    }
}

extension Launch {
    /// This process's rank as the launcher set it in the environment (before MPI starts), or nil
    /// when no launcher started it.
    package static func rankFromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"].lazy.compactMap { environment[$0].flatMap(Int.init) }.first
    }

    /// What rank 0 says about the job at start-up: its size and threads, and — under Open MPI's
    /// mpirun — whether Ctrl-C can end it with a checkpoint. mpirun answers Ctrl-C or SIGTERM by
    /// sending the ranks SIGTERM only `odls_base_sigkill_timeout` seconds later (default 1), then
    /// SIGKILL as long after that: by default too little time to finish a step and write a checkpoint.
    package static func startupNotes(_ mpi: MPICommunicator,
                                      environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        var s = "Data-parallel: \(mpi.size) ranks (\(mpi.libraryVersion.split(separator: ",").first ?? "MPI")), \(Parallel.workers) thread\(Parallel.workers == 1 ? "" : "s") on rank 0"
        if environment["OMPI_COMM_WORLD_SIZE"] != nil {
            let timeout = environment["OMPI_MCA_odls_base_sigkill_timeout"].flatMap(Int.init) ?? 1
            if timeout < minimumKillTimeout {
                s += """

                    Note: Ctrl-C or SIGTERM to mpirun reaches the ranks as SIGTERM \(timeout) s later and SIGKILL \(timeout) s after \
                    that, too soon to finish the step and write a checkpoint. Start mpirun with --mca odls_base_sigkill_timeout 30 \
                    (as make train NP=N does), or stop the job with kill -USR1 <mpirun's pid>.
                    """
            }
        }
        return s
    }

    /// Seconds mpirun must leave the ranks between SIGTERM and SIGKILL for a graceful stop.
    package static let minimumKillTimeout = 10
}
