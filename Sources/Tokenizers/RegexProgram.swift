import IO

// The regex engine's compiled form and its matcher: a backtracking virtual machine with an explicit
// stack (no recursion that grows with the text), memoization of failed states (so a pattern without
// look-around runs in time linear in the text for a fixed pattern, as Ruby 3.2's Onigmo does), and a
// step budget that turns whatever is still super-linear into an error instead of a hang.

/// One instruction. Operands depend on `op` (see `RegexCompiler`).
struct RegexInst {
    enum Op: UInt8 {
        /// Consume one scalar: `a` the scalar (exact), the same under `(?i)` folding, a set (`a`
        /// indexes `sets`), or any scalar (`a` = 1 with dot-all, else all but newline).
        case char, charFold, set, any
        /// A quantified single-scalar test (`a` indexes `tests`): count the run once, then try the
        /// continuation at each admissible length, longest first when greedy. `b` min, `c` max.
        case run
        /// Try `a` first; on failure resume at `b`.
        case split
        case jump
        /// Atomic groups: the end drops every alternative pushed since the start's marker.
        case atomicStart, atomicEnd
        /// Look-around `a` (indexes `looks`): a sub-program run to completion at this position.
        case look
        /// The empty-iteration check of a loop whose body can match empty (register `a`).
        case progressMark, progressCheck
        /// A zero-width assertion, `a` a `RegexAssertion` raw value.
        case assert
        case match
    }

    var op: Op
    var a: Int32 = 0
    var b: Int32 = 0
    var c: Int = 0
    /// Greedy run / look-behind / negative look-around.
    var flag = false
    /// The memo slot of a split or an unbounded run (-1: not memoized).
    var memo: Int32 = -1
}

enum RegexAssertion: Int32 {
    case lineStart, lineEnd, textStart, textEnd, textEndBeforeNewline, wordBoundary, notWordBoundary, searchStart
}

/// The scalar test of a `run` instruction.
struct RegexScalarTest {
    var op: RegexInst.Op
    var value: UInt32
}

struct RegexLook {
    var start: Int
    var negative: Bool
    var behind: Bool
    var minLength: Int
    var maxLength: Int
}

/// A compiled pattern: the main program at 0, look-around bodies after it (each ends in `match`).
struct RegexProgram: Sendable {
    var insts: [RegexInst] = []
    var sets: [RegexCharSet] = []
    var tests: [RegexScalarTest] = []
    var looks: [RegexLook] = []
    var registers = 0
    var memoSlots = 0
    /// `\G` depends on where a search began, so its states cannot be shared between searches.
    var usesSearchStart = false

    /// Larger programs are refused: tokenizer patterns are a few hundred instructions at most, and
    /// counted repetitions of groups are expanded.
    static let maxInstructions = 50_000
}

extension RegexInst: @unchecked Sendable {}
extension RegexScalarTest: @unchecked Sendable {}
extension RegexLook: Sendable {}

/// Compiles `RegexNode`s. Recursion here follows the pattern's nesting, which the parser bounds.
struct RegexCompiler {
    var program = RegexProgram()
    let source: String
    /// Inside the body of a loop that can match empty: states there depend on the loop's register,
    /// so they are not memoized. Also set while compiling look-around bodies (run alone, not memoized).
    var unmemoized = 0
    init(source: String) { self.source = source }

    static func compile(_ root: RegexNode, source: String) throws -> RegexProgram {
        var c = RegexCompiler(source: source)
        try c.emitNode(root)
        c.emit(RegexInst(op: .match))
        // Look-around bodies are compiled after the main program, breadth first (each may hold more).
        var pending = c.pendingLooks
        c.pendingLooks = []
        while !pending.isEmpty {
            for (index, body) in pending {
                c.program.looks[index].start = c.program.insts.count
                c.unmemoized += 1
                try c.emitNode(body)
                c.unmemoized -= 1
                c.emit(RegexInst(op: .match))
            }
            pending = c.pendingLooks
            c.pendingLooks = []
        }
        return c.program
    }

    private var pendingLooks: [(Int, RegexNode)] = []

    private mutating func emit(_ inst: RegexInst) {
        program.insts.append(inst)
    }

    private func checkSize() throws {
        if program.insts.count > RegexProgram.maxInstructions {
            throw EmbedError("regex \"\(source)\": too large once compiled (over \(RegexProgram.maxInstructions) instructions; counted repetitions of groups are expanded)")
        }
    }

    private mutating func memoSlot() -> Int32 {
        guard unmemoized == 0 else { return -1 }
        program.memoSlots += 1
        return Int32(program.memoSlots - 1)
    }

    private mutating func emitNode(_ node: RegexNode) throws {
        try checkSize()
        switch node {
        case .empty:
            break
        case .char(let c, let caseless):
            emit(RegexInst(op: caseless ? .charFold : .char, a: Int32(bitPattern: c)))
        case .set(let s):
            program.sets.append(s)
            emit(RegexInst(op: .set, a: Int32(program.sets.count - 1)))
        case .any(let dotAll):
            emit(RegexInst(op: .any, a: dotAll ? 1 : 0))
        case .sequence(let nodes):
            for n in nodes { try emitNode(n) }
        case .alternation(let nodes):
            var jumps: [Int] = []
            for (k, n) in nodes.enumerated() {
                if k < nodes.count - 1 {
                    let split = program.insts.count
                    emit(RegexInst(op: .split, a: Int32(split + 1), memo: memoSlot()))
                    try emitNode(n)
                    jumps.append(program.insts.count)
                    emit(RegexInst(op: .jump))
                    program.insts[split].b = Int32(program.insts.count)
                } else {
                    try emitNode(n)
                }
            }
            for j in jumps { program.insts[j].a = Int32(program.insts.count) }
        case .repetition(let body, let min, let max, let greedy):
            try emitRepetition(body, min: min, max: max, greedy: greedy)
        case .atomic(let body):
            emit(RegexInst(op: .atomicStart))
            try emitNode(body)
            emit(RegexInst(op: .atomicEnd))
        case .lookahead(let body, let negative):
            program.looks.append(RegexLook(start: -1, negative: negative, behind: false, minLength: 0, maxLength: 0))
            pendingLooks.append((program.looks.count - 1, body))
            emit(RegexInst(op: .look, a: Int32(program.looks.count - 1)))
        case .lookbehind(let body, let negative):
            let range = body.lengthRange
            program.looks.append(RegexLook(start: -1, negative: negative, behind: true, minLength: range.min,
                                           maxLength: range.max ?? range.min))
            pendingLooks.append((program.looks.count - 1, body))
            emit(RegexInst(op: .look, a: Int32(program.looks.count - 1)))
        case .lineStart: emit(RegexInst(op: .assert, a: RegexAssertion.lineStart.rawValue))
        case .lineEnd: emit(RegexInst(op: .assert, a: RegexAssertion.lineEnd.rawValue))
        case .textStart: emit(RegexInst(op: .assert, a: RegexAssertion.textStart.rawValue))
        case .textEnd: emit(RegexInst(op: .assert, a: RegexAssertion.textEnd.rawValue))
        case .textEndBeforeNewline: emit(RegexInst(op: .assert, a: RegexAssertion.textEndBeforeNewline.rawValue))
        case .wordBoundary(let wanted):
            emit(RegexInst(op: .assert, a: (wanted ? RegexAssertion.wordBoundary : .notWordBoundary).rawValue))
        case .searchStart:
            program.usesSearchStart = true
            emit(RegexInst(op: .assert, a: RegexAssertion.searchStart.rawValue))
        }
    }

    private mutating func emitRepetition(_ body: RegexNode, min: Int, max: Int, greedy: Bool) throws {
        if max == 0 { return }
        if let test = scalarTest(body) {
            program.tests.append(test)
            var inst = RegexInst(op: .run, a: Int32(program.tests.count - 1), b: Int32(min), c: max, flag: greedy)
            // Unbounded runs get a slot: their run ends are cached and their tried continuations
            // remembered (`RegexVM`), which needs a count-independent state.
            if max == Int.max { inst.memo = memoSlot() }
            emit(inst)
            return
        }
        // The mandatory iterations, then the optional ones.
        for _ in 0..<min {
            try emitNode(body)
            try checkSize()
        }
        if max == min { return }
        let nullable = body.nullable
        if max == Int.max {
            // loop: split(body, exit) — lazy: split(exit, body)
            let head = program.insts.count
            emit(RegexInst(op: .split, memo: memoSlot()))
            try emitIteration(body, nullable: nullable)
            emit(RegexInst(op: .jump, a: Int32(head)))
            let exit = Int32(program.insts.count)
            program.insts[head].a = greedy ? Int32(head + 1) : exit
            program.insts[head].b = greedy ? exit : Int32(head + 1)
        } else {
            // Each optional iteration may end the repetition.
            var splits: [Int] = []
            for _ in 0..<(max - min) {
                let split = program.insts.count
                splits.append(split)
                emit(RegexInst(op: .split, memo: memoSlot()))
                try emitIteration(body, nullable: nullable)
                try checkSize()
            }
            let exit = Int32(program.insts.count)
            for s in splits {
                program.insts[s].a = greedy ? Int32(s + 1) : exit
                program.insts[s].b = greedy ? exit : Int32(s + 1)
            }
        }
    }

    /// One optional iteration; when the body can match empty, an iteration that consumed nothing
    /// fails (Oniguruma's empty-loop check), so `(a*)*` ends.
    private mutating func emitIteration(_ body: RegexNode, nullable: Bool) throws {
        guard nullable else {
            try emitNode(body)
            return
        }
        let register = Int32(program.registers)
        program.registers += 1
        emit(RegexInst(op: .progressMark, a: register))
        unmemoized += 1
        try emitNode(body)
        unmemoized -= 1
        emit(RegexInst(op: .progressCheck, a: register))
    }

    private mutating func scalarTest(_ node: RegexNode) -> RegexScalarTest? {
        switch node {
        case .char(let c, let caseless): return RegexScalarTest(op: caseless ? .charFold : .char, value: c)
        case .set(let s):
            program.sets.append(s)
            return RegexScalarTest(op: .set, value: UInt32(program.sets.count - 1))
        case .any(let dotAll): return RegexScalarTest(op: .any, value: dotAll ? 1 : 0)
        default: return nil
        }
    }
}

/// The matches of a program could not be found within the step budget.
struct RegexBudgetExceeded: Error {}

/// Runs a `RegexProgram` over one text. Owns its stacks and memo table; one per `matches` call.
struct RegexVM: ~Copyable {
    let text: UnsafeBufferPointer<UInt32>
    let insts: UnsafeBufferPointer<RegexInst>
    let sets: UnsafeBufferPointer<RegexCharSet>
    let tests: UnsafeBufferPointer<RegexScalarTest>
    let looks: UnsafeBufferPointer<RegexLook>
    var searchStart = 0
    var steps = 0
    let budget: Int

    /// The backtrack stack: kind, pc, position, extra.
    private var stack: UnsafeMutablePointer<Frame>
    private var stackCount = 0
    private var stackCapacity: Int
    private var registers: UnsafeMutablePointer<Int>
    /// Failed (or in-progress) states: bit (position × slots + slot).
    private var memo: UnsafeMutablePointer<UInt64>?
    private let memoSlots: Int
    private let memoWords: Int
    /// Unbounded runs: the last run counted, [start, end), so a run starting inside it ends at
    /// the same place without counting again. Indexed by memo slot.
    private var runFrom: UnsafeMutablePointer<Int>
    private var runTo: UnsafeMutablePointer<Int>
    /// Greedy unbounded runs: the continuation positions [low, high] already tried from this
    /// instruction in the current search (so a run from a later start does not try them again).
    private var triedLow: UnsafeMutablePointer<Int>
    private var triedHigh: UnsafeMutablePointer<Int>

    struct Frame {
        enum Kind: UInt8 { case alternative, greedyRun, lazyRun, marker, restore }
        var kind: Kind
        var pc: Int32
        var pos: Int
        /// greedyRun / lazyRun: the next length to try; restore: the register's old value.
        var extra: Int
        /// lazyRun: the longest length; restore: the register.
        var extra2: Int
    }

    init(program: RegexProgramStorage, text: UnsafeBufferPointer<UInt32>, budget: Int) {
        self.text = text
        insts = UnsafeBufferPointer(program.insts)
        sets = UnsafeBufferPointer(program.sets)
        tests = UnsafeBufferPointer(program.tests)
        looks = UnsafeBufferPointer(program.looks)
        self.budget = budget
        stackCapacity = 64
        stack = .allocate(capacity: stackCapacity)
        registers = .allocate(capacity: max(1, program.registers))
        registers.initialize(repeating: -1, count: max(1, program.registers))
        memoSlots = program.memoSlots
        if memoSlots > 0 && !program.usesSearchStart {
            let bits = (text.count + 1) * memoSlots
            memoWords = (bits + 63) / 64
            let m = UnsafeMutablePointer<UInt64>.allocate(capacity: memoWords)
            m.initialize(repeating: 0, count: memoWords)
            memo = m
        } else {
            memoWords = 0
            memo = nil
        }
        let slots = max(1, memoSlots)
        runFrom = .allocate(capacity: slots)
        runFrom.initialize(repeating: -1, count: slots)
        runTo = .allocate(capacity: slots)
        runTo.initialize(repeating: -1, count: slots)
        triedLow = .allocate(capacity: slots)
        triedHigh = .allocate(capacity: slots)
        triedLow.initialize(repeating: 1, count: slots)
        triedHigh.initialize(repeating: 0, count: slots)
    }

    deinit {
        stack.deallocate()
        registers.deallocate()
        memo?.deallocate()
        runFrom.deallocate()
        runTo.deallocate()
        triedLow.deallocate()
        triedHigh.deallocate()
    }

    /// The leftmost match starting at or after `from`, as Oniguruma's search finds it.
    mutating func search(from: Int, firstSet: RegexCharSet?) throws(RegexBudgetExceeded) -> (Int, Int)? {
        searchStart = from
        // States at `from` may lie on the previous search's successful path (it ended there):
        // forget them. States further right that were visited all failed, whatever the start.
        if let memo, from <= text.count {
            for slot in 0..<memoSlots {
                let bit = from * memoSlots + slot
                memo[bit >> 6] &= ~(1 << UInt64(bit & 63))
            }
        }
        for slot in 0..<memoSlots {
            triedLow[slot] = 1
            triedHigh[slot] = 0
        }
        var start = from
        while start <= text.count {
            if let firstSet {
                while start < text.count, !firstSet.contains(text[start]) { start += 1 }
                if start == text.count { return nil }
            }
            if let end = try run(pc: 0, at: start, requiredEnd: -1) { return (start, end) }
            start += 1
        }
        return nil
    }

    @inline(__always)
    private func visited(_ slot: Int32, _ pos: Int) -> Bool {
        guard let memo else { return false }
        let bit = pos &* memoSlots &+ Int(slot)
        return memo[bit >> 6] & (1 << UInt64(bit & 63)) != 0
    }

    @inline(__always)
    private func markVisited(_ slot: Int32, _ pos: Int) {
        guard let memo else { return }
        let bit = pos &* memoSlots &+ Int(slot)
        memo[bit >> 6] |= 1 << UInt64(bit & 63)
    }

    @inline(__always)
    private mutating func push(_ f: Frame) {
        if stackCount == stackCapacity {
            let bigger = UnsafeMutablePointer<Frame>.allocate(capacity: stackCapacity * 2)
            bigger.moveInitialize(from: stack, count: stackCount)
            stack.deallocate()
            stack = bigger
            stackCapacity *= 2
        }
        stack[stackCount] = f
        stackCount += 1
    }

    @inline(__always)
    private func testScalar(_ op: RegexInst.Op, _ value: UInt32, _ c: UInt32) -> Bool {
        switch op {
        case .char: return c == value
        case .charFold: return c == value || regexFold(c) == regexFold(value)
        case .set: return sets[Int(value)].contains(c)
        default: return value != 0 || c != 0x0A  // any
        }
    }

    private func isWord(_ i: Int) -> Bool {
        i >= 0 && i < text.count && UnicodeData.shared.has(text[i], UnicodeData.Flag.onigWord)
    }

    private func assertion(_ kind: Int32, _ i: Int) -> Bool {
        switch RegexAssertion(rawValue: kind)! {
        case .lineStart: return i == 0 || text[i - 1] == 0x0A
        case .lineEnd: return i == text.count || text[i] == 0x0A
        case .textStart: return i == 0
        case .textEnd: return i == text.count
        case .textEndBeforeNewline: return i == text.count || (i == text.count - 1 && text[i] == 0x0A)
        case .wordBoundary: return isWord(i - 1) != isWord(i)
        case .notWordBoundary: return isWord(i - 1) == isWord(i)
        case .searchStart: return i == searchStart
        }
    }

    /// Runs the program from `pc` at `at` until `match` (returns the end) or every alternative
    /// failed (nil). With `requiredEnd` ≥ 0 only a match ending there counts (look-behind). The
    /// frames it pushes sit above the caller's and are gone when it returns; it recurses only into
    /// look-around bodies, so its depth is bounded by the pattern's nesting.
    private mutating func run(pc startPC: Int, at startPos: Int, requiredEnd: Int) throws(RegexBudgetExceeded) -> Int? {
        let base = stackCount
        var pc = startPC
        var i = startPos
        let n = text.count
        defer { stackCount = base }
        while true {
            steps &+= 1
            if steps > budget { throw RegexBudgetExceeded() }
            let inst = insts[pc]
            var ok = true
            switch inst.op {
            case .char:
                if i < n, text[i] == UInt32(bitPattern: inst.a) { i += 1; pc += 1 } else { ok = false }
            case .charFold, .set, .any:
                if i < n, testScalar(inst.op, UInt32(bitPattern: inst.a), text[i]) { i += 1; pc += 1 } else { ok = false }
            case .run:
                let test = tests[Int(inst.a)]
                let minCount = Int(inst.b)
                var count: Int
                if inst.memo >= 0, runFrom[Int(inst.memo)] <= i, i <= runTo[Int(inst.memo)] {
                    count = runTo[Int(inst.memo)] - i
                } else {
                    count = 0
                    let limit = min(inst.c, n - i)
                    // A run reaching the start of the cached one goes on to its end: counted again,
                    // runs started one scalar further left each time would cost quadratic time.
                    let join = inst.memo >= 0 && runFrom[Int(inst.memo)] > i ? runFrom[Int(inst.memo)] : -1
                    while count < limit, i + count != join, testScalar(test.op, test.value, text[i + count]) { count += 1 }
                    steps &+= count
                    if i + count == join { count = runTo[Int(inst.memo)] - i }
                    if inst.memo >= 0 {
                        runFrom[Int(inst.memo)] = i
                        runTo[Int(inst.memo)] = i + count
                    }
                }
                if count < minCount { ok = false; break }
                if inst.flag {
                    push(Frame(kind: .greedyRun, pc: Int32(pc), pos: i, extra: count, extra2: minCount))
                } else {
                    push(Frame(kind: .lazyRun, pc: Int32(pc), pos: i, extra: minCount, extra2: count))
                }
                ok = false  // continue by popping the frame just pushed
            case .split:
                if inst.memo >= 0 {
                    if visited(inst.memo, i) { ok = false; break }
                    markVisited(inst.memo, i)
                }
                push(Frame(kind: .alternative, pc: inst.b, pos: i, extra: 0, extra2: 0))
                pc = Int(inst.a)
            case .jump:
                pc = Int(inst.a)
            case .atomicStart:
                push(Frame(kind: .marker, pc: 0, pos: 0, extra: 0, extra2: 0))
                pc += 1
            case .atomicEnd:
                // Drop everything down to and including this group's marker (register
                // restores included: the values set inside stay, as they would on success).
                while stackCount > base {
                    stackCount -= 1
                    if stack[stackCount].kind == .marker { break }
                }
                pc += 1
            case .look:
                let look = looks[Int(inst.a)]
                var found = false
                if look.behind {
                    var j = i - look.minLength
                    let lowest = max(0, i - look.maxLength)
                    while j >= lowest, !found {
                        found = try run(pc: look.start, at: j, requiredEnd: i) != nil
                        j -= 1
                    }
                } else {
                    found = try run(pc: look.start, at: i, requiredEnd: -1) != nil
                }
                if found != look.negative { pc += 1 } else { ok = false }
            case .progressMark:
                push(Frame(kind: .restore, pc: 0, pos: 0, extra: registers[Int(inst.a)], extra2: Int(inst.a)))
                registers[Int(inst.a)] = i
                pc += 1
            case .progressCheck:
                if registers[Int(inst.a)] == i { ok = false } else { pc += 1 }
            case .assert:
                if assertion(inst.a, i) { pc += 1 } else { ok = false }
            case .match:
                if requiredEnd < 0 || i == requiredEnd { return i }
                ok = false
            }
            if ok { continue }
            // Backtrack: resume the most recent alternative.
            var resumed = false
            while !resumed {
                guard stackCount > base else { return nil }
                steps &+= 1
                let f = stack[stackCount - 1]
                switch f.kind {
                case .alternative:
                    stackCount -= 1
                    pc = Int(f.pc)
                    i = f.pos
                    resumed = true
                case .marker:
                    stackCount -= 1
                case .restore:
                    stackCount -= 1
                    registers[f.extra2] = f.extra
                case .greedyRun:
                    // Try the continuation after `len` scalars; shorter lengths stay on the stack.
                    let len = f.extra
                    let runPC = Int(f.pc)
                    let slot = Int(insts[runPC].memo)
                    let q = f.pos + len
                    if slot >= 0, triedLow[slot] <= q, q <= triedHigh[slot] {
                        // A run of this instruction already tried every continuation in
                        // [triedLow, triedHigh] in this search, and they failed: skip below.
                        let below = triedLow[slot] - 1 - f.pos
                        if below < f.extra2 { stackCount -= 1 } else { stack[stackCount - 1].extra = below }
                        continue
                    }
                    if len <= f.extra2 { stackCount -= 1 } else { stack[stackCount - 1].extra = len - 1 }
                    if slot >= 0 {
                        if triedLow[slot] > triedHigh[slot] || q < triedLow[slot] - 1 || q > triedHigh[slot] + 1 {
                            triedLow[slot] = q
                            triedHigh[slot] = q
                        } else {
                            triedLow[slot] = min(triedLow[slot], q)
                            triedHigh[slot] = max(triedHigh[slot], q)
                        }
                    }
                    pc = runPC + 1
                    i = q
                    resumed = true
                case .lazyRun:
                    let len = f.extra
                    if len >= f.extra2 { stackCount -= 1 } else { stack[stackCount - 1].extra = len + 1 }
                    pc = Int(f.pc) + 1
                    i = f.pos + len
                    resumed = true
                }
            }
        }
    }
}

/// The program's arrays at stable addresses, for the matcher's unchecked reads.
final class RegexProgramStorage: @unchecked Sendable {
    let insts: UnsafeMutableBufferPointer<RegexInst>
    let sets: UnsafeMutableBufferPointer<RegexCharSet>
    let tests: UnsafeMutableBufferPointer<RegexScalarTest>
    let looks: UnsafeMutableBufferPointer<RegexLook>
    let registers: Int
    let memoSlots: Int
    let usesSearchStart: Bool

    init(_ p: RegexProgram) {
        func copy<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
            let b = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, a.count))
            _ = b.initialize(from: a)
            return UnsafeMutableBufferPointer(rebasing: b[0..<a.count])
        }
        insts = copy(p.insts)
        sets = copy(p.sets)
        tests = copy(p.tests)
        looks = copy(p.looks)
        registers = p.registers
        memoSlots = p.memoSlots
        usesSearchStart = p.usesSearchStart
    }

    deinit {
        insts.baseAddress.map { _ = UnsafeMutableBufferPointer(start: $0, count: insts.count).deinitialize() }
        sets.baseAddress.map { _ = UnsafeMutableBufferPointer(start: $0, count: sets.count).deinitialize() }
        insts.baseAddress?.deallocate()
        sets.baseAddress?.deallocate()
        tests.baseAddress?.deallocate()
        looks.baseAddress?.deallocate()
    }
}
