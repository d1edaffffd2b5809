// Log Analytics workspace and a workspace-based Application Insights that accepts only Entra-authenticated
// telemetry (local auth off): the app's managed identity sends with Monitoring Metrics Publisher. The
// workspace also receives the diagnostic logs of the archive storage, the Key Vault and the Function App
// (their diagnostic settings sit with each resource), all kept logRetentionDays.
param location string
param tags object
param logAnalyticsName string
param applicationInsightsName string
param logRetentionDays int

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: logRetentionDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

output logAnalyticsWorkspaceId string = logAnalytics.id
output logAnalyticsName string = logAnalytics.name
output applicationInsightsName string = applicationInsights.name
output applicationInsightsId string = applicationInsights.id
