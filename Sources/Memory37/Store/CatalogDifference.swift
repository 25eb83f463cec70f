/// What a registry change wrote, as rows: database stores persist exactly this inside the
/// transaction the change ran in.
struct CatalogDifference {
    var upsertedVersions: [KnowledgeVersion] = []
    var removedVersions: [KnowledgeVersionRef] = []
    var upsertedAliases: [KnowledgeAlias] = []
    var removedAliases: [KnowledgeVersionRef] = []
    var newHistory: [AliasChange] = []
    /// Scopes whose policies changed, with their complete new policies (empty: none).
    var policies: [String: [KnowledgeDomain: Double?]] = [:]

    init(from before: VersionCatalog, to after: VersionCatalog) {
        upsertedVersions = after.versions.filter { before.versions[$0.key] != $0.value }.map(\.value)
        removedVersions = before.versions.keys.filter { after.versions[$0] == nil }
        upsertedAliases = after.aliases.filter { before.aliases[$0.key] != $0.value }.map(\.value)
        removedAliases = before.aliases.keys.filter { after.aliases[$0] == nil }
        newHistory = Array(after.history.dropFirst(before.history.count))
        for scope in Set(before.policies.keys).union(after.policies.keys) where before.policies[scope] != after.policies[scope] {
            policies[scope] = after.policies[scope] ?? [:]
        }
    }

    var isEmpty: Bool {
        upsertedVersions.isEmpty && removedVersions.isEmpty && upsertedAliases.isEmpty && removedAliases.isEmpty && newHistory.isEmpty && policies.isEmpty
    }
}
