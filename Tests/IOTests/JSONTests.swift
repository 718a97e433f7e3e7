import IO
import TestSupport
import Testing

@Suite struct JSONTests {
    @Test func parsesAndKeepsKeyOrder() throws {
        let v = try JSON.parse(#"{"b": 1, "a": [true, null, -2.5e3, "x\u00e9\ud83d\ude00\n"], "c": {}}"#)
        #expect(v.object?.keys == ["b", "a", "c"])
        #expect(v["b"]?.int == 1)
        #expect(v["a"]?.array?[2].double == -2500)
        #expect(v["a"]?.array?[3].string == "xé😀\n")
        #expect(v["a"]?.array?[1].isNull == true)
    }

    @Test func roundTripsThroughSerialization() throws {
        let text = #"{"z":"q\"\\\t\u0001","n":[1,2.5,-0.001,1e+300],"o":{"k":false}}"#
        let v = try JSON.parse(text)
        #expect(try JSON.parse(v.serialized()) == v)
        #expect(try JSON.parse(v.serialized(indent: 2)) == v)
        #expect(v.serialized().contains(#""q\"\\\t\u0001""#))
    }

    /// Python's json and `JSON.format` write the non-finite values as NaN, Infinity, -Infinity.
    @Test func readsWhatItWritesForNonFiniteNumbers() throws {
        let v = try JSON.parse(#"[NaN, Infinity, -Infinity, -1]"#)
        #expect(v.array?[0].double?.isNaN == true)
        #expect(v.array?[1].double == .infinity)
        #expect(v.array?[2].double == -.infinity)
        #expect(v.array?[3].double == -1)
        let written = JSON.array([.number(-.infinity), .number(.infinity)]).serialized()
        #expect(try JSON.parse(written) == JSON.array([.number(-.infinity), .number(.infinity)]))
        #expect(throws: JSONParseError.self) { try JSON.parse("-Inf") }
        #expect(throws: JSONParseError.self) { try JSON.parse("-I") }
    }

    @Test func reportsLineAndColumn() {
        do {
            _ = try JSON.parse("{\n  \"a\": 1,\n  \"b\" 2\n}")
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 3)
            #expect(error.column == 7)
        }
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\":}", "tru", "\"abc", "1.", "-", "[1 2]", "{} x", "\"\\x\""])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSON.parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = Array("\"ab".utf8) + [0xC3, 0x28] + Array("\"".utf8)
        #expect(throws: JSONParseError.self) { try JSON.parse(bytes) }
    }

    @Test func limitsNestingDepth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSON.parse(deep) }
    }
}
