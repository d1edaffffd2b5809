// Client-secret mode only: a Key Vault (RBAC, soft delete) holding the app registration's secret,
// which the Function App reads through a Key Vault reference with its user-assigned identity. The
// secret itself is set by an administrator after deployment; it never passes through a template.
// Purge protection is opt-in: with it a deleted vault keeps its name for the whole retention period,
// so `azd down` then `azd up` with the same name fails (docs/deploy.md, "Tear down"). Its audit events go
// to the Log Analytics workspace.
param location string
param tags object
param name string
param identityPrincipalId string
param operatorPrincipalId string
param operatorPrincipalType string
param enablePurgeProtection bool
param logAnalyticsWorkspaceId string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    // Azure refuses `false` once it was on (irreversible); null leaves it off on a new vault.
    enablePurgeProtection: enablePurgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
  }
}

// Every access to the vault (the app resolving its Key Vault reference, an operator setting or reading the
// secret, every refusal) to the Log Analytics workspace: the AuditEvent log.
resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'key-vault-audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ category: 'AuditEvent', enabled: true }]
  }
}

resource appReadsSecret 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource operatorSetsSecret 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

output name string = vault.name
