import Synchronization

/// One logical read made of several store queries — a hybrid search's text, vector and name
/// queries and the fetch of its hits, or an NPC profile's lookups.
///
/// A store whose copy has to be brought up to date before it answers (PostgreSQL with
/// in-process search) does so once per read rather than once per query: the queries see
/// one state, and a search pays one round trip to the database instead of four.
final class ReadScope: Sendable {
    @TaskLocal static var current: ReadScope?

    private let synchronizations = Mutex<[ObjectIdentifier: Task<Void, any Error>]>([:])

    /// Runs `body` in the current scope, or in a new one when there is none.
    static func run<T>(_ body: () async throws -> T) async throws -> T {
        if current != nil { return try await body() }
        return try await $current.withValue(ReadScope()) { try await body() }
    }

    /// The synchronisation of `owner` in this scope: started by the first query that asks,
    /// shared by every later one.
    func synchronization(of owner: AnyObject, start: () -> Task<Void, any Error>) -> Task<Void, any Error> {
        synchronizations.withLock { tasks in
            if let task = tasks[ObjectIdentifier(owner)] { return task }
            let task = start()
            tasks[ObjectIdentifier(owner)] = task
            return task
        }
    }
}
