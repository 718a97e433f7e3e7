import Foundation
import IO
import TestSupport
import Testing

/// The YAML reader: libyaml events into a tree with positions, and PyYAML-compatible scalars.
@Suite struct YAMLTests {
    static func parse(_ text: String, _ source: String = "t.yaml") throws -> YAMLNode {
        guard let node = try YAML.parse(text, source: source) else {
            throw EmbedError("no document")
        }
        return node
    }

    /// The message of the error `body` throws, or a recorded issue if it does not throw.
    static func errorMessage(_ body: () throws -> Any?, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            _ = try body()
            Issue.record("expected an error", sourceLocation: sourceLocation)
            return ""
        } catch {
            return "\(error)"
        }
    }

    // MARK: Scalars against PyYAML

    struct ReferenceScalar: Sendable, CustomStringConvertible {
        let text: String
        let type: String
        let value: JSON
        let differs: Bool
        var description: String { "k: \(text)" }
    }

    static let referenceScalars: [ReferenceScalar] = {
        let path = TestPaths.fixtures + "/yaml/scalars.json"
        guard let data = FileManager.default.contents(atPath: path),
              let json = try? JSON.parse([UInt8](data)), let list = json["scalars"]?.array else { return [] }
        return list.compactMap { s in
            guard let text = s["text"]?.string, let type = s["type"]?.string else { return nil }
            return ReferenceScalar(text: text, type: type, value: s["value"] ?? .null, differs: s["pyyaml_differs"]?.bool ?? false)
        }
    }()

    @Test func referenceFixtureIsPresent() {
        #expect(Self.referenceScalars.count > 90)
    }

    /// Every scalar of tools/make_yaml_reference.py resolves as PyYAML's safe_load resolved it,
    /// except the documented differences, which are numbers here.
    @Test(arguments: referenceScalars)
    func scalarMatchesPyYAML(_ ref: ReferenceScalar) throws {
        let node = try #require(try Self.parse("k: \(ref.text)")["k"])
        let value = try node.resolved()
        if ref.differs {
            #expect(ref.type == "str")
            guard case .float(let d) = value else {
                Issue.record("\(ref.text) resolved to \(value), expected a float")
                return
            }
            #expect(d == Double(ref.text.replacingOccurrences(of: "-.", with: "-0.")))
            return
        }
        switch (ref.type, value) {
        case ("null", .null): break
        case ("bool", .bool(let b)): #expect(ref.value.bool == b)
        case ("int", .int(let i)): #expect(ref.value.double == Double(i))
        case ("float", .float(let d)):
            let expected = ref.value.string ?? ""
            switch expected {
            case "inf": #expect(d == .infinity)
            case "-inf": #expect(d == -.infinity)
            case "nan": #expect(d.isNaN)
            default:
                #expect(d == Double(expected))
                #expect(d.sign == (Double(expected) ?? 0).sign)
            }
        case ("str", .string(let s)): #expect(ref.value.string == s)
        default: Issue.record("\(ref.text): PyYAML says \(ref.type) \(ref.value), we say \(value)")
        }
    }

    @Test func explicitTagsForceTypes() throws {
        let doc = try Self.parse("""
            a: !!str 123
            b: !!int "12"
            c: !!float 1
            d: !!bool "yes"
            e: !!null ""
            f: ! 42
            """)
        #expect(try doc["a"]?.resolved() == .string("123"))
        #expect(try doc["b"]?.resolved() == .int(12))
        #expect(try doc["c"]?.resolved() == .float(1))
        #expect(try doc["d"]?.resolved() == .bool(true))
        #expect(try doc["e"]?.resolved() == .null)
        #expect(try doc["f"]?.resolved() == .string("42"))
        let bad = try Self.parse("a: !!int abc\nb: !custom x\n")
        let message1 = Self.errorMessage { try bad["a"]?.resolved() }
        #expect(message1.contains("t.yaml:1:4: 'abc' is not a valid !!int"))
        let message2 = Self.errorMessage { try bad["b"]?.resolved() }
        #expect(message2.contains("t.yaml:2:4: unsupported tag '!custom'"))
    }

    @Test func integerOutOfRangeIsAnError() throws {
        let doc = try Self.parse("big: 99999999999999999999\n")
        let message3 = Self.errorMessage { try doc["big"]?.resolved() }
        #expect(message3 == "t.yaml:1:6: the integer 99999999999999999999 is out of range")
    }

    // MARK: Tree and positions

    @Test func buildsTreeWithPositions() throws {
        let doc = try Self.parse("""
            # a comment
            model:
              name: "ltg/norbert3-base"   # trailing comment
              sizes: [1, 2.5, 'x']
            list:
              - a
              - {k: v, n: null}
            text: |
              line one
              line two
            folded: >
              one
              two
            """)
        #expect(doc.entries?.map { $0.key.scalarText } == ["model", "list", "text", "folded"])
        let name = try #require(doc["model"]?["name"])
        #expect(name.kind == .scalar("ltg/norbert3-base", .doubleQuoted))
        #expect(name.mark == YAMLMark(source: "t.yaml", line: 3, column: 9))
        #expect(name.mark.description == "t.yaml:3:9")
        let sizes = try #require(doc["model"]?["sizes"]?.items)
        #expect(try sizes.map { try $0.resolved() } == [.int(1), .float(2.5), .string("x")])
        #expect(sizes[1].mark.line == 4 && sizes[1].mark.column == 14)
        let list = try #require(doc["list"]?.items)
        #expect(list.count == 2)
        #expect(list[0].scalarText == "a")
        #expect(try list[1]["n"]?.resolved() == .null)
        #expect(list[1].mark.line == 7)
        #expect(doc["text"]?.kind == .scalar("line one\nline two\n", .literal))
        #expect(doc["folded"]?.kind == .scalar("one two", .folded))
        #expect(doc["missing"] == nil)
    }

    @Test func emptyOrCommentOnlyDocumentIsNil() throws {
        #expect(try YAML.parse("", source: "e") == nil)
        #expect(try YAML.parse("# nothing\n\n# here\n", source: "e") == nil)
    }

    @Test func aliasesRepeatTheAnchoredNode() throws {
        let doc = try Self.parse("a: &x {k: 1}\nb: *x\n")
        #expect(doc["b"]?["k"] == doc["a"]?["k"])
        let message4 = Self.errorMessage { try Self.parse("a: *nope\n") }
        #expect(message4.contains("t.yaml:1:4: alias '*nope' names no anchor"))
    }

    @Test func aliasExpansionIsCapped() {
        // Nine levels of ten-fold aliases would expand to a billion nodes.
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            text += "a\(i): &a\(i) [\(refs)]\n"
        }
        let message5 = Self.errorMessage { try Self.parse(text) }
        #expect(message5.contains("expands to more than"))
    }

    @Test func deepNestingIsAnError() {
        let text = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        let message6 = Self.errorMessage { try Self.parse(text) }
        #expect(message6.contains("nested deeper than"))
    }

    // MARK: Errors

    @Test func syntaxErrorsCarryLibyamlsMark() {
        let unclosed = Self.errorMessage { try Self.parse("a: [1, 2\nb: 3\n") }
        #expect(unclosed.hasPrefix("t.yaml:2:2: YAML syntax error: did not find expected ',' or ']'"))
        #expect(unclosed.contains("while parsing a flow sequence at line 1, column 4"))
        let tab = Self.errorMessage { try Self.parse("a:\n\tb: 1\n") }
        #expect(tab.hasPrefix("t.yaml:2:1: YAML syntax error: found character that cannot start any token"))
        let indent = Self.errorMessage { try Self.parse("a:\n    b: 1\n  c: 2\n") }
        #expect(indent.hasPrefix("t.yaml:3:3: YAML syntax error:"))
        let quote = Self.errorMessage { try Self.parse("a: \"open\nb: 1\n") }
        #expect(quote.contains("YAML syntax error: found unexpected end of stream"))
    }

    @Test func duplicateKeysAreErrors() {
        let message = Self.errorMessage { try Self.parse("training:\n  seed: 1\n  lr: 2\n  seed: 3\n") }
        #expect(message == "t.yaml:4:3: duplicate key 'seed' (first given at line 2, column 3)")
    }

    @Test func aSecondDocumentIsAnError() {
        let message7 = Self.errorMessage { try Self.parse("a: 1\n---\nb: 2\n") }
        #expect(message7.hasPrefix("t.yaml:2:1: a second YAML document"))
    }

    @Test func nonScalarKeysAreErrors() {
        let message8 = Self.errorMessage { try Self.parse("? [a, b]\n: 1\n") }
        #expect(message8.contains("a mapping key must be a scalar"))
    }

    @Test func invalidUTF8IsAnErrorWithItsPosition() {
        let bytes: [UInt8] = Array("a: 1\nb: x".utf8) + [0xFF] + Array("\n".utf8)
        let message = Self.errorMessage { try YAML.parse(bytes, source: "u.yaml") }
        #expect(message.hasPrefix("u.yaml:2:5: invalid text:"))
    }

    @Test func remarkedReplacesEveryMark() throws {
        let node = try Self.parse("{a: [1, 2]}")
        let mark = YAMLMark(source: "--set x={a: [1, 2]}")
        let r = node.remarked(mark)
        #expect(r.mark == mark && r["a"]?.mark == mark && r["a"]?.items?[1].mark == mark)
        #expect(r.entries?.first?.key.mark == mark)
        #expect(mark.description == "--set x={a: [1, 2]}")
    }

    @Test func loadsFilesAndNamesMissingOnes() throws {
        let dir = TestPaths.scratch()
        let path = dir + "/c.yaml"
        try "x: 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try YAML.load(path: path)?["x"]?.resolved() == .int(1))
        let message9 = Self.errorMessage { try YAML.load(path: dir + "/none.yaml") }
        #expect(message9.contains("none.yaml: cannot open"))
    }

    @Test func editDistanceCountsSwapsAsOneEdit() {
        #expect(EditDistance.distance("lerning_rate", "learning_rate") == 1)
        #expect(EditDistance.distance("lr_shceduler", "lr_scheduler") == 1)
        #expect(EditDistance.distance("", "abc") == 3)
        #expect(EditDistance.distance("Seed", "seed") == 0)
        #expect(EditDistance.closest(to: "warmup", among: ["warmup_ratio", "weight_decay"])?.candidate == "warmup_ratio")
    }
}
