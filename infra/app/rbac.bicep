// Role assignments, each named guid(scope, principal, role), for exactly what each part uses:
// - host storage (AzureWebJobsStorage): blobs (keys, timer schedule, singleton locks, deployment
//   package: Blob Data Owner, as the Functions docs require) and tables (host diagnostic events);
// - archive storage (EXPORT_STORAGE): blobs (batches, manifests, entity leases), queues (the jobs queue
//   and its poison queue, sent to and read by the app and the queue trigger) and tables (checkpoints,
//   runs, jobs); Contributor, not Owner: the app never manages access;
// - Application Insights: Monitoring Metrics Publisher, because local (key) auth is off.
// And the optional operator (the CLI's "archive reader"): read-only unless operatorArchiveWrite.
param hostStorageName string
param archiveStorageName string
param archiveContainerName string
param applicationInsightsName string
param identityPrincipalId string
param operatorPrincipalId string
param operatorPrincipalType string
param operatorArchiveWrite bool

var roles = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  blobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  tableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

resource archiveStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: archiveStorageName
}

resource archiveBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: archiveStorage
  name: 'default'
}

resource archiveContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: archiveBlobService
  name: archiveContainerName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource hostBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, identityPrincipalId, roles.blobDataOwner)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource hostTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, identityPrincipalId, roles.tableDataContributor)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource archiveBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(archiveStorage.id, identityPrincipalId, roles.blobDataContributor)
  scope: archiveStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource archiveQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(archiveStorage.id, identityPrincipalId, roles.queueDataContributor)
  scope: archiveStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource archiveTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(archiveStorage.id, identityPrincipalId, roles.tableDataContributor)
  scope: archiveStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource telemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The operator (an archive reader using `teams-export status|ls|cat|html|rsmf|serve` with identity-based
// settings): read-only on blobs and tables, so a reader can neither change nor delete the archive or its
// state. Write access (Blob and Table Data Contributor, e.g. to run backfills from the CLI) only with
// operatorArchiveWrite. Turning that back off does not remove the Contributor assignments (a deployment
// leaves what it no longer declares): docs/security.md gives the command that does.
var operatorAssigned = !empty(operatorPrincipalId)
var operatorWrites = operatorAssigned && operatorArchiveWrite

resource operatorBlobRead 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (operatorAssigned) {
  name: guid(archiveStorage.id, operatorPrincipalId, roles.blobDataReader)
  scope: archiveStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataReader)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

resource operatorTableRead 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (operatorAssigned) {
  name: guid(archiveStorage.id, operatorPrincipalId, roles.tableDataReader)
  scope: archiveStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataReader)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Every CLI read is recorded in the audit trail before it is answered, and refused when the record cannot
// be written (docs/security.md): a read-only operator must still be able to add their own records. This
// grant lets them create and append blobs under audit/ of the archive container and nothing else: an
// Azure ABAC condition (role assignment condition format: Microsoft's "Azure role assignment condition
// format and syntax") limits writes to the audit/ path, and allows deletes and moves nowhere, since no
// blob of this container is outside it. WORM then keeps even the operator's own records from changing.
var auditAppendOnlyCondition = '''
(
 (
  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})
  AND
  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})
 )
 OR
 (
  @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'audit/'
 )
)
AND
(
 (
  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})
  AND
  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action'})
 )
 OR
 (
  @Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringNotEquals '__CONTAINER__'
 )
)
'''

resource operatorAuditAppend 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (operatorAssigned) {
  name: guid(archiveContainer.id, operatorPrincipalId, roles.blobDataContributor)
  scope: archiveContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataContributor)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    condition: replace(auditAppendOnlyCondition, '__CONTAINER__', archiveContainerName)
    conditionVersion: '2.0'
  }
}

resource operatorBlobWrite 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (operatorWrites) {
  name: guid(archiveStorage.id, operatorPrincipalId, roles.blobDataContributor)
  scope: archiveStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataContributor)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

resource operatorTableWrite 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (operatorWrites) {
  name: guid(archiveStorage.id, operatorPrincipalId, roles.tableDataContributor)
  scope: archiveStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}
