import ServiceKit
import Synchronization
import Testing

/// A clock the test moves by hand, so refill is exact and independent of machine speed.
final class ManualClock: Sendable {
    private let seconds = Mutex<Double>(0)
    func advance(by delta: Double) { seconds.withLock { $0 += delta } }
    var now: Double { seconds.withLock { $0 } }
}

@Suite struct RateLimiterTests {
    @Test func burstIsAllowedThenLimited() {
        let clock = ManualClock()
        let limiter = TokenBucketRateLimiter(policy: .init(burst: 3, refillPerSecond: 1), clock: { clock.now })
        #expect(limiter.acquire("user") == .allowed(remaining: 2))
        #expect(limiter.acquire("user") == .allowed(remaining: 1))
        #expect(limiter.acquire("user") == .allowed(remaining: 0))
        #expect(limiter.acquire("user") == .limited(retryAfter: .seconds(1)))
    }

    @Test func tokensRefillAtTheConfiguredRate() {
        let clock = ManualClock()
        let limiter = TokenBucketRateLimiter(policy: .init(burst: 2, refillPerSecond: 4), clock: { clock.now })
        #expect(limiter.acquire("k").isAllowed)
        #expect(limiter.acquire("k").isAllowed)
        #expect(!limiter.acquire("k").isAllowed)
        clock.advance(by: 0.1)  // 0.4 tokens: still short of one
        #expect(limiter.acquire("k") == .limited(retryAfter: .milliseconds(150)))
        clock.advance(by: 0.15)  // 0.4 + 0.6 = 1 token
        #expect(limiter.acquire("k") == .allowed(remaining: 0))
        clock.advance(by: 100)  // never more than the burst
        #expect(limiter.acquire("k") == .allowed(remaining: 1))
    }

    @Test func keysHaveSeparateBuckets() {
        let clock = ManualClock()
        let limiter = TokenBucketRateLimiter(policy: .init(burst: 1, refillPerSecond: 1), clock: { clock.now })
        #expect(limiter.acquire("campaign-a").isAllowed)
        #expect(!limiter.acquire("campaign-a").isAllowed)
        #expect(limiter.acquire("campaign-b").isAllowed)
    }

    @Test func costAboveOneDrainsFaster() {
        let clock = ManualClock()
        let limiter = TokenBucketRateLimiter(policy: .init(burst: 5, refillPerSecond: 1), clock: { clock.now })
        #expect(limiter.acquire("k", cost: 4) == .allowed(remaining: 1))
        #expect(limiter.acquire("k", cost: 4) == .limited(retryAfter: .seconds(3)))
    }

    @Test func trackedKeysStayBounded() {
        let clock = ManualClock()
        let limiter = TokenBucketRateLimiter(policy: .init(burst: 2, refillPerSecond: 1), maximumKeys: 100, clock: { clock.now })
        for index in 0..<1_000 {
            clock.advance(by: 0.000_001)  // distinct ages, so "least recently used" is well defined
            _ = limiter.acquire("key-\(index)")
        }
        #expect(limiter.trackedKeys <= 100)
        // The most recent key kept its state: its second request still finds one token.
        #expect(limiter.acquire("key-999") == .allowed(remaining: 0))
    }

    @Test func concurrentAcquiresNeverExceedTheBurst() async {
        let clock = ManualClock()
        let limiter = TokenBucketRateLimiter(policy: .init(burst: 50, refillPerSecond: 1), clock: { clock.now })
        let allowed = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<500 {
                group.addTask { limiter.acquire("shared").isAllowed }
            }
            var count = 0
            for await ok in group where ok { count += 1 }
            return count
        }
        #expect(allowed == 50)
    }
}
