import NIOCore
import NIOPosix
import Testing

@testable import PartySync

/// The watchdog sleeps to its next deadline on an event-loop timer; other tasks wake it early.
@Suite struct WatchdogAlarmTests {
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    @Test func aSleepLastsUntilItsDeadline() async {
        let alarm = WatchdogAlarm(eventLoop: loop)
        let start = ContinuousClock.now
        await alarm.sleep(until: start + .milliseconds(200))
        #expect(ContinuousClock.now - start >= .milliseconds(199))
    }

    @Test func aNudgeWakesASleeperEarly() async throws {
        let alarm = WatchdogAlarm(eventLoop: loop)
        let start = ContinuousClock.now
        async let slept: Void = alarm.sleep(until: start + .seconds(60))
        try await Task.sleep(for: .milliseconds(50))
        alarm.nudge()
        await slept
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test func aNudgeWhileAwakeEndsTheNextSleepAtOnceAndOnlyThat() async {
        let alarm = WatchdogAlarm(eventLoop: loop)
        alarm.nudge()
        let start = ContinuousClock.now
        await alarm.sleep(until: start + .seconds(60))
        #expect(ContinuousClock.now - start < .seconds(30))
        // The nudge was used up: the next sleep waits for its deadline.
        let second = ContinuousClock.now
        await alarm.sleep(until: second + .milliseconds(150))
        #expect(ContinuousClock.now - second >= .milliseconds(149))
    }

    @Test func cancellingTheSleeperWakesIt() async throws {
        let alarm = WatchdogAlarm(eventLoop: loop)
        let start = ContinuousClock.now
        let sleeper = Task { await alarm.sleep(until: start + .seconds(60)) }
        try await Task.sleep(for: .milliseconds(50))
        sleeper.cancel()
        await sleeper.value
        #expect(ContinuousClock.now - start < .seconds(30))
    }
}
