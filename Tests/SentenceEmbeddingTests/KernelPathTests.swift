import Testing
import TransformerKernels

/// Every instruction-set path of the kernels against the others on the same inputs: the
/// machine running the tests picks one path, so the others are forced here
/// (`rpgbot_limit_kernels`). Sizes are odd on purpose, to reach the masked and scalar tails.
@Suite(.serialized) struct KernelPathTests {
    /// Deterministic values in -1…1.
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
    }

    /// `body`'s output at each level: portable, AVX2, AVX-512 (a level the processor lacks falls
    /// back to the next narrower one, so it still checks a real path).
    static func atEveryLevel(_ body: () -> [Float]) -> [[Float]] {
        defer { rpgbot_limit_kernels(2) }
        return (0...2).map { level in
            rpgbot_limit_kernels(Int32(level))
            return body()
        }
    }

    static func expectClose(_ outputs: [[Float]], tolerance: Float, _ label: String) {
        let reference = outputs[0]
        for (level, output) in outputs.enumerated().dropFirst() {
            #expect(output.count == reference.count)
            let worst = zip(output, reference).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst <= tolerance, "\(label): level \(level) differs from the portable loop by \(worst)")
        }
        #expect(reference.contains { $0 != 0 }, "\(label): no output")
    }

    @Test("plain and packed products agree on every path, tails included")
    func products() {
        let (m, k, n) = (13, 37, 70)
        let a = Self.values(m * k, seed: 1), b = Self.values(k * n, seed: 2), bias = Self.values(n, seed: 3)
        let plain = Self.atEveryLevel {
            var c = [Float](repeating: 0, count: m * n)
            rpgbot_sgemm_bias(a, m, k, b, n, bias, &c)
            return c
        }
        Self.expectClose(plain, tolerance: 1e-4, "sgemm")
        let wide = 64
        let weights = Self.values(k * wide, seed: 4), wideBias = Self.values(wide, seed: 5)
        var packed = [Float](repeating: 0, count: k * wide)
        rpgbot_pack_panels(weights, k, wide, &packed)
        let packedOutputs = Self.atEveryLevel {
            var c = [Float](repeating: 0, count: m * wide)
            rpgbot_sgemm_packed(a, m, k, packed, wide, wideBias, &c)
            return c
        }
        Self.expectClose(packedOutputs, tolerance: 1e-4, "packed sgemm")
        // The packed product is the plain one.
        var direct = [Float](repeating: 0, count: m * wide)
        rpgbot_sgemm_bias(a, m, k, weights, wide, wideBias, &direct)
        Self.expectClose([direct, packedOutputs[2]], tolerance: 1e-4, "packed against plain")
    }

    @Test("GELU and attention agree on every path")
    func activationsAndAttention() {
        let input = Self.values(101, seed: 6).map { $0 * 6 }
        let gelu = Self.atEveryLevel {
            var x = input
            rpgbot_gelu(&x, x.count)
            return x
        }
        Self.expectClose(gelu, tolerance: 1e-5, "gelu")
        // GELU(1) = 0.8413447…; GELU(-1) = -0.1586553…
        var known: [Float] = [1, -1, 0]
        rpgbot_gelu(&known, 3)
        #expect(abs(known[0] - 0.8413447) < 1e-5 && abs(known[1] + 0.1586553) < 1e-5 && known[2] == 0, "\(known)")

        let (length, heads, size) = (19, 3, 8)
        let qkv = Self.values(length * 3 * heads * size, seed: 7).map { $0 * 3 }
        let attention = Self.atEveryLevel {
            var out = [Float](repeating: 0, count: length * heads * size)
            var scratch = [Float](repeating: 0, count: rpgbot_attention_scratch_count(length, size))
            rpgbot_attention(qkv, length, heads, size, &out, &scratch)
            return out
        }
        Self.expectClose(attention, tolerance: 1e-4, "attention")
    }
}
