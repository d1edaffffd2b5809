// Two storage accounts, both without shared keys or public blob access and TLS 1.2 only: the Functions
// host's own storage (keys, timer and singleton locks, the deployment package) and the archive
// (EXPORT_STORAGE: the export container, the checkpoint/run/job tables and the jobs queue), so WORM,
// versioning and lifecycle rules apply to the archive alone and each identity gets only its roles.
// Every read, write and delete of the archive's blobs is logged to the Log Analytics workspace.
param location string
param tags object
param hostStorageName string
param archiveStorageName string
param archiveStorageSku string
param archiveContainerName string
param deploymentContainerName string
param enableImmutability bool
param immutabilityDays int
param immutabilityPolicyLocked bool
param lifecycleCoolAfterDays int
param lifecycleArchiveAfterDays int
param logAnalyticsWorkspaceId string

var secureDefaults = {
  minimumTlsVersion: 'TLS1_2'
  supportsHttpsTrafficOnly: true
  allowBlobPublicAccess: false
  allowSharedKeyAccess: false // Entra ID (managed identity) only
  defaultToOAuthAuthentication: true
  allowCrossTenantReplication: false
  publicNetworkAccess: 'Enabled'
  networkAcls: {
    defaultAction: 'Allow'
    bypass: 'AzureServices'
  }
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: hostStorageName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: union(secureDefaults, { accessTier: 'Hot' })
}

resource hostBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: hostStorage
  name: 'default'
}

// Flex Consumption runs the package it finds in this container (written by `azd deploy` / `func publish`).
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: hostBlobService
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

resource archiveStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: archiveStorageName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: archiveStorageSku }
  properties: union(secureDefaults, { accessTier: 'Hot' })
}

resource archiveBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: archiveStorage
  name: 'default'
  properties: {
    // Always on: every overwrite and delete keeps the previous version, and version-level WORM needs it.
    // The app overwrites only its manifests (run and job totals), so it costs next to nothing.
    isVersioningEnabled: true
    deleteRetentionPolicy: { enabled: true, days: 14 }
    containerDeleteRetentionPolicy: { enabled: true, days: 14 }
  }
}

resource archiveContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: archiveBlobService
  name: archiveContainerName
  properties: {
    publicAccess: 'None'
    // Version-level (not container-level) WORM: a container-level policy would refuse the manifest
    // overwrites; at version level each overwrite creates a new version and every version stays immutable.
    immutableStorageWithVersioning: enableImmutability ? { enabled: true } : null
  }
}

// Who read, wrote or deleted which blob of the archive, and when (the StorageBlobLogs table): the storage
// account's own record, which also covers reads that bypass the app (a data role used with the CLI or
// any other tool). Blob service only: the tables and the queue hold run state, not archived content.
resource archiveBlobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'archive-blob-access-to-log-analytics'
  scope: archiveBlobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      { category: 'StorageRead', enabled: true }
      { category: 'StorageWrite', enabled: true }
      { category: 'StorageDelete', enabled: true }
    ]
    metrics: [{ category: 'Transaction', enabled: true }]
  }
}

// The container's default policy: every blob version written gets this retention. Created unlocked
// (Bicep cannot lock it). Once an operator locks it, Azure allows only extending it, so a PUT with
// these properties fails: with immutabilityPolicyLocked the template leaves the policy alone
// (docs/deploy.md, "Lock WORM"). allowProtectedAppendWrites exists for container-level policies only:
// under this version-level policy an append blob is as immutable as any other blob once written.
resource archiveImmutability 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = if (enableImmutability && !immutabilityPolicyLocked) {
  parent: archiveContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: immutabilityDays
    allowProtectedAppendWrites: false
  }
}

// Azure offers the Archive tier on LRS, GRS and RA-GRS accounts only (docs/deploy.md, "Parameters").
var zoneRedundantSku = contains(['Standard_ZRS', 'Standard_GZRS', 'Standard_RAGZRS'], archiveStorageSku)
var archiveTierError = 'lifecycleArchiveAfterDays (TEAMS_EXPORT_ARCHIVE_AFTER_DAYS): the Archive tier is not available with ${archiveStorageSku}; use 0 or an LRS, GRS or RA-GRS SKU'
var archiveAfterDays = lifecycleArchiveAfterDays > 0 && zoneRedundantSku ? fail(archiveTierError) : lifecycleArchiveAfterDays
var tieringEnabled = lifecycleCoolAfterDays > 0 || archiveAfterDays > 0
var tierActions = union(
  lifecycleCoolAfterDays > 0 ? { tierToCool: { daysAfterCreationGreaterThan: lifecycleCoolAfterDays } } : {},
  archiveAfterDays > 0 ? { tierToArchive: { daysAfterCreationGreaterThan: archiveAfterDays } } : {}
)

// Batches are never modified after they are written, so age since creation is the right clock.
// Only messages/ moves: manifests, quarantine and the lock blobs stay hot (small, and read by the app).
// Always deployed: a deployment does not delete what it no longer declares, so setting both days back
// to 0 must replace the rule with a disabled one (a rule needs an action: a 100-year Cool placeholder).
resource archiveLifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: archiveStorage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          enabled: tieringEnabled
          name: 'tier-old-message-batches'
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: ['${archiveContainerName}/messages/']
            }
            actions: {
              baseBlob: tieringEnabled ? tierActions : { tierToCool: { daysAfterCreationGreaterThan: 36500 } }
            }
          }
        }
      ]
    }
  }
  dependsOn: [archiveContainer]
}

output hostStorageName string = hostStorage.name
output archiveStorageName string = archiveStorage.name
output archiveContainerName string = archiveContainer.name
output deploymentContainerName string = deploymentContainer.name
output archiveBlobEndpoint string = archiveStorage.properties.primaryEndpoints.blob
output archiveTableEndpoint string = archiveStorage.properties.primaryEndpoints.table
