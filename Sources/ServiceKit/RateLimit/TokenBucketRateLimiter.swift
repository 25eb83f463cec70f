import Synchronization

/// The shape of a token bucket: how many requests may come at once and how fast the
/// allowance comes back.
public struct RateLimitPolicy: Sendable, Equatable {
    /// The bucket size: requests allowed in a burst.
    public var burst: Double
    /// Tokens added back per second.
    public var refillPerSecond: Double

    public init(burst: Double, refillPerSecond: Double) {
        precondition(burst >= 1 && refillPerSecond > 0, "a rate limit needs burst >= 1 and a positive refill rate")
        self.burst = burst
        self.refillPerSecond = refillPerSecond
    }
}

/// One token bucket, for a caller that owns its own (a WebSocket connection): not shared,
/// so no lock. ``TokenBucketRateLimiter`` keeps one per key.
public struct TokenBucket: Sendable {
    public let policy: RateLimitPolicy
    var tokens: Double
    var updatedAt: Double

    public init(policy: RateLimitPolicy, now: Double) {
        self.policy = policy
        self.tokens = policy.burst
        self.updatedAt = now
    }

    /// Takes `cost` tokens at time `now` (seconds) if the bucket has them.
    public mutating func acquire(cost: Double = 1, now: Double) -> RateLimitDecision {
        tokens = min(policy.burst, tokens + max(0, now - updatedAt) * policy.refillPerSecond)
        updatedAt = now
        if tokens >= cost {
            tokens -= cost
            return .allowed(remaining: Int(tokens.rounded(.down)))
        }
        let seconds = (cost - tokens) / policy.refillPerSecond
        return .limited(retryAfter: .milliseconds(Int64((seconds * 1000).rounded(.up))))
    }

    /// Whether the bucket would be full at `now`: it then carries no information.
    func isFull(at now: Double) -> Bool {
        tokens + (now - updatedAt) * policy.refillPerSecond >= policy.burst
    }
}

/// The answer of ``TokenBucketRateLimiter/acquire(_:cost:)``.
public enum RateLimitDecision: Sendable, Equatable {
    /// Go ahead; `remaining` whole tokens are left in the bucket.
    case allowed(remaining: Int)
    /// Refused; the cost will be available after `retryAfter`.
    case limited(retryAfter: Duration)

    public var isAllowed: Bool {
        if case .allowed = self { return true }
        return false
    }
}

/// A token-bucket rate limiter keyed by any string (a user, a campaign, an IP, or a
/// combination), safe to share between tasks.
///
/// Memory is bounded: beyond `maximumKeys` buckets, buckets that have refilled completely carry
/// no information and are dropped first, then the least recently used.
public final class TokenBucketRateLimiter: Sendable {
    public let policy: RateLimitPolicy
    public let maximumKeys: Int
    private let clock: @Sendable () -> Double
    private let buckets = Mutex<[String: TokenBucket]>([:])

    /// - Parameters:
    ///   - policy: burst size and refill rate.
    ///   - maximumKeys: how many keys are tracked at most.
    ///   - clock: monotonic time in seconds; tests pass a manual clock.
    public init(policy: RateLimitPolicy, maximumKeys: Int = 100_000, clock: @escaping @Sendable () -> Double = TokenBucketRateLimiter.monotonicSeconds) {
        self.policy = policy
        self.maximumKeys = max(1, maximumKeys)
        self.clock = clock
    }

    /// Takes `cost` tokens from the bucket of `key` if it has them.
    public func acquire(_ key: String, cost: Double = 1) -> RateLimitDecision {
        let now = clock()
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? TokenBucket(policy: policy, now: now)
            let decision = bucket.acquire(cost: cost, now: now)
            buckets[key] = bucket
            if buckets.count > maximumKeys {
                Self.evict(&buckets, now: now, policy: policy, keep: maximumKeys)
            }
            return decision
        }
    }

    /// The number of keys currently tracked.
    public var trackedKeys: Int {
        buckets.withLock { $0.count }
    }

    private static func evict(_ buckets: inout [String: TokenBucket], now: Double, policy: RateLimitPolicy, keep: Int) {
        buckets = buckets.filter { _, bucket in !bucket.isFull(at: now) }
        if buckets.count > keep {
            let oldest = buckets.sorted { $0.value.updatedAt < $1.value.updatedAt }.prefix(buckets.count - keep)
            for (key, _) in oldest { buckets.removeValue(forKey: key) }
        }
    }

    /// Seconds on the monotonic clock.
    @Sendable public static func monotonicSeconds() -> Double {
        (ContinuousClock.now - startInstant).inSeconds
    }

    private static let startInstant = ContinuousClock.now
}
