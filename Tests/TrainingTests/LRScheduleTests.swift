import IO
import Inference
import NN
import TestSupport
import Testing
import Training

/// Every scheduler against transformers' get_scheduler over 65 steps (past the end, where
/// polynomial holds lr_end and the others hold 0). Fixture: tools/make_model_reference.py.
@Suite struct LRScheduleTests {
    @Test func matchesTransformers() throws {
        let json = try JSON.parse(try ByteReader(path: TestPaths.fixtures + "/model/lr-schedules.json").readAll())
        let base = json["base_lr"]!.double!, warmup = json["warmup_steps"]!.int!, total = json["total_steps"]!.int!
        let schedules = json["schedules"]!.array!
        #expect(schedules.count == 8)
        for s in schedules {
            let name = s["name"]!.string!
            let kwargs = s["kwargs"]!
            let sched = LRSchedule(kind: LRSchedulerKind(rawValue: name)!, baseLR: base, warmupSteps: warmup, totalSteps: total,
                                   numCycles: kwargs["num_cycles"]?.double, power: kwargs["power"]?.double ?? 1,
                                   lrEnd: kwargs["lr_end"]?.double ?? 1e-7)
            for (step, want) in s["lr"]!.array!.enumerated() {
                let got = sched.lr(at: step)
                #expect(abs(got - want.double!) <= 1e-12, "\(name) \(kwargs.serialized()) step \(step): \(got) vs \(want.double!)")
            }
        }
    }

    @Test func warmupStepsRoundUpAsTransformers() {
        #expect(LRSchedule.warmupSteps(ratio: 0.1, totalSteps: 125) == 13)
        #expect(LRSchedule.warmupSteps(ratio: 0.1, totalSteps: 120) == 12)
        #expect(LRSchedule.warmupSteps(ratio: 0, totalSteps: 120) == 0)
    }
}
