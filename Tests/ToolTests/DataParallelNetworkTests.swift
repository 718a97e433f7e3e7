import Foundation
import IO
import TestSupport
import Testing

/// Two "machines": network namespaces joined by a veth pair, each with its own address. mpirun runs
/// in the first and starts the second rank's daemon in the other through `ip netns exec` (as Open
/// MPI's rsh agent, in place of ssh); the ranks talk over Open MPI's TCP transport only.
enum NetworkNamespaces {
    static let scripts = TestPaths.fixtures + "/mpi"

    /// Whether namespaces can be made here (root with CAP_SYS_ADMIN and CAP_NET_ADMIN, iproute2):
    /// tried once, with a pair that is removed at once.
    static let available: Bool = {
        let tag = "\(getpid() % 100_000)"
        let up = (try? ToolRunner.run("/bin/sh", [scripts + "/netns-up.sh", "nrpA\(tag)", "nrpB\(tag)", "nrpa\(tag)", "nrpb\(tag)"]))?.status
        _ = try? ToolRunner.run("/bin/sh", [scripts + "/netns-down.sh", "nrpA\(tag)", "nrpB\(tag)"])
        return up == 0
    }()
}

@Suite(.serialized, .enabled(if: MPIRun.available && ToolRunner.path("train") != nil && ToolRunner.path("tokenize") != nil,
                             "needs mpirun (Debian: openmpi-bin) and the built tools"))
struct DataParallelNetworkTests {
    @Test(.enabled(if: NetworkNamespaces.available,
                   "cannot make network namespaces here (needs root with CAP_SYS_ADMIN and CAP_NET_ADMIN, and iproute2)"))
    func twoMachinesOverTCP() throws {
        let s = try DataParallelTrainingTests.prepare(bert: true)
        let one = try DataParallelTrainingTests.config(s, name: "one", batch: 16)
        let two = try DataParallelTrainingTests.config(s, name: "two", batch: 8)
        try DataParallelTrainingTests.train(s, config: one.config)

        let tag = "\(getpid() % 100_000)"
        let (a, b, va, vb) = ("nrmA\(tag)", "nrmB\(tag)", "nrva\(tag)", "nrvb\(tag)")
        let scripts = NetworkNamespaces.scripts
        let up = try ToolRunner.run("/bin/sh", [scripts + "/netns-up.sh", a, b, va, vb])
        try #require(up.status == 0, "netns-up.sh: \(up.stderr)")
        defer { _ = try? ToolRunner.run("/bin/sh", [scripts + "/netns-down.sh", a, b]) }
        func received() throws -> Int {
            let r = try ToolRunner.run("/usr/bin/env", ["ip", "netns", "exec", b, "cat", "/sys/class/net/\(vb)/statistics/rx_bytes"])
            return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let before = try received()

        let hostfile = s.work + "/hostfile"
        try "10.77.0.1 slots=1\n10.77.0.2 slots=1\n".write(toFile: hostfile, atomically: true, encoding: .utf8)
        let mpirun = try #require(MPIRun.path)
        let env = MPIRun.environment.merging(["NOREMBED_NETNS_A": a, "NOREMBED_NETNS_B": b]) { $1 }
        let args = ["netns", "exec", a, mpirun, "-np", "2", "--hostfile", hostfile, "--map-by", "node", "--bind-to", "none",
                    "--mca", "plm_rsh_agent", scripts + "/rsh-agent.sh",
                    "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "10.77.0.0/24", "--mca", "oob_tcp_if_include", "10.77.0.0/24"]
            + MPIRun.environment.keys.sorted().flatMap { ["-x", $0] }
            + [ToolRunner.path("train")!] + DataParallelTrainingTests.arguments(s, config: two.config)
        let r = try ToolRunner.run("/usr/bin/env", ["ip"] + args, environment: env)
        #expect(r.status == 0, "mpirun over two namespaces exited \(r.status):\n\(r.stderr.suffix(3000))")
        #expect(r.stderr.contains("Data-parallel: 2 ranks"))

        // The gradients crossed the veth pair (the ranks were on two "machines").
        let crossed = try received() - before
        #expect(crossed > 100_000, "only \(crossed) bytes reached \(b)")
        try DataParallelTrainingTests.expectSameLosses(two.output, one.output, steps: 1...6)
        try DataParallelTrainingTests.expectSameWeights(two.output + "/checkpoint-6/model.safetensors",
                                                        one.output + "/checkpoint-6/model.safetensors", steps: 6)
    }
}
