import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing
import Training

/// Event files are parsed back by an independent reader here (bitwise CRC-32C, hand-decoded
/// protobuf), so a wrong CRC, length or field number in the writer fails the test.
@Suite struct TensorBoardTests {
    @Test func scalarsReadBackWithValidCRCs() throws {
        let dir = TestPaths.scratch()
        let w = try TensorBoardWriter(directory: dir)
        try w.scalars([("train/loss", 0.75), ("train/learning_rate", 2e-5)], step: 10, wallTime: 1000.5)
        try w.scalars([("eval/cosine_accuracy", 0.9375)], step: 500)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(files.count == 1 && files[0].hasPrefix("events.out.tfevents."))
        let events = try readEvents(dir + "/" + files[0])
        #expect(events.count == 3)
        #expect(events[0].fileVersion == "brain.Event:2")
        #expect(events[1].step == 10 && events[1].wallTime == 1000.5)
        #expect(events[1].scalars.map(\.0) == ["train/loss", "train/learning_rate"])
        #expect(events[1].scalars.map(\.1) == [0.75, 2e-5])
        #expect(events[2].step == 500 && events[2].scalars.first?.1 == 0.9375)
    }

    @Test func crc32cKnownVector() {
        // RFC 3720 test vector: CRC-32C of "123456789" is 0xE3069283.
        #expect(crc32c(Array("123456789".utf8)) == 0xE306_9283)
    }
}
