/// Many Float buffers carved out of one allocation, in the order they are taken. The size is
/// computed from the shapes up front; `finish()` checks that the carving used exactly that much.
final class FloatArena {
    let base: UnsafeMutablePointer<Float>
    let capacity: Int
    private var used = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: max(capacity, 1))
    }

    deinit { base.deallocate() }

    func take(_ n: Int) -> UnsafeMutablePointer<Float> {
        precondition(used + n <= capacity, "arena overflow: the size formula and the carving disagree")
        defer { used += n }
        return base + used
    }

    func finish() { precondition(used == capacity, "arena underused: the size formula and the carving disagree") }
}

/// What every encoder keeps between forward and backward: buffers sized for `T` packed tokens and
/// `P` attention-matrix floats per layer, and — when training with dropout — each layer's
/// attention probabilities after dropout, so backward need not draw the masks again.
class EncoderActivations {
    let T: Int
    let P: Int
    let arena: FloatArena
    let dropped: [UnsafeMutablePointer<Float>]
    private let droppedStorage: UnsafeMutablePointer<Float>?

    init(T: Int, P: Int, arena: FloatArena, layers L: Int, withDropped: Bool) {
        arena.finish()
        self.T = T
        self.P = P
        self.arena = arena
        droppedStorage = withDropped ? .allocate(capacity: max(1, L * P)) : nil
        dropped = droppedStorage.map { base in (0..<L).map { base + $0 * P } } ?? []
    }

    deinit { droppedStorage?.deallocate() }

    var keepsDropped: Bool { !dropped.isEmpty }

    /// The current activations if they are big enough, else new ones with headroom (so that
    /// slightly larger batches do not reallocate every step).
    static func reuse<A: EncoderActivations>(_ current: A?, T: Int, P: Int, withDropped: Bool,
                                             make: (_ T: Int, _ P: Int, _ withDropped: Bool) -> A) -> A {
        if let a = current, a.T >= T, a.P >= P, !withDropped || a.keepsDropped { return a }
        return make(max(T, (current?.T ?? 0) * 5 / 4), max(P, (current?.P ?? 0) * 5 / 4),
                    withDropped || (current?.keepsDropped ?? false))
    }
}
