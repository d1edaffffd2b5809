// The Function App on the Flex Consumption plan (Linux, Node 22) running as the user-assigned identity,
// and its app settings: identity-based host and archive storage, Entra-authenticated telemetry, the
// Graph credential, who may call the HTTP functions, and the export settings. test/infra checks these
// settings against src/settings.ts. No basic (FTP/SCM) publishing credentials: azd deploys with an
// Entra token. The Function App's own logs go to the Log Analytics workspace.
param location string
param tags object
param planName string
param name string
param identityId string
param identityClientId string
param hostStorageName string
param archiveStorageName string
param deploymentContainerName string
param applicationInsightsName string
param maximumInstanceCount int
param instanceMemoryMB int
param graphMaxRps int
param graphCopilotRps int
param graphMeetingRps int
param graphBaseUrl string
param archiveContainerName string
param exportSchedule string
param exportStart string
param exportUsers string
param exportTeams string
param exportChatMode string
param exportHostedContents bool
param exportAttachments bool
param exportRetained bool
param exportDeletedTeams bool
param exportCopilot bool
param exportMeetings bool
param exportRecordingMaxMB int
param exportIncludeUsers string
param exportExcludeUsers string
param exportIncludeTeams string
param exportExcludeTeams string
param logLevel string
param useClientSecret bool
param graphClientId string
param keyVaultName string
param logAnalyticsWorkspaceId string
@description('HTTP_AUTH=function-keys instead of entra (App Service Authentication is then off: function-auth.bicep).')
param allowFunctionKeys bool
@description('Entra sign-in: the identity App Service Authentication presents instead of a client secret (empty with function keys).')
param authIdentityId string
param authIdentityClientId string

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

resource archiveStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: archiveStorageName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true // Linux
  }
}

// Flex Consumption scales each function group on its own instances, and maximumInstanceCount caps
// each group, not the app: HTTP functions share one group, every other trigger is a group of its own.
// The Graph budget is split over every instance of every group, whether or not the group calls Graph
// today (docs/deploy.md, "Graph budget"). test/infra/graph-budget.test.ts checks this list against the
// functions the app registers. No always-ready instances: they would not count against the maximum.
var functionScaleGroups = ['http', 'dailyExport', 'exportWorker', 'exportPoison', 'contentWorker', 'sweepStuck']
var graphInstances = maximumInstanceCount * length(functionScaleGroups)

// app-settings:begin — test/infra/app-settings.test.ts reads the setting names between these markers.
var hostSettings = {
  // The Functions host's storage, through the managed identity (no AzureWebJobsStorage connection string).
  AzureWebJobsStorage__blobServiceUri: hostStorage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__tableServiceUri: hostStorage.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Telemetry is accepted only with an Entra token (local auth is off on the component).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

var exportSettings = {
  // The archive: read by the app (src/settings.ts) and, as connection EXPORT_STORAGE, by the queue triggers.
  EXPORT_STORAGE__blobServiceUri: archiveStorage.properties.primaryEndpoints.blob
  EXPORT_STORAGE__tableServiceUri: archiveStorage.properties.primaryEndpoints.table
  EXPORT_STORAGE__queueServiceUri: archiveStorage.properties.primaryEndpoints.queue
  EXPORT_STORAGE__credential: 'managedidentity'
  EXPORT_STORAGE__clientId: identityClientId
  EXPORT_CONTAINER: archiveContainerName
  // The host resolves %EXPORT_QUEUE%, %EXPORT_CONTENT_QUEUE% and %EXPORT_SCHEDULE% itself: the app's
  // defaults do not reach it.
  EXPORT_QUEUE: 'teams-export-jobs'
  EXPORT_CONTENT_QUEUE: 'teams-export-content'
  EXPORT_SCHEDULE: exportSchedule
  EXPORT_START: exportStart
  EXPORT_USERS: exportUsers
  EXPORT_TEAMS: exportTeams
  EXPORT_CHAT_MODE: exportChatMode
  EXPORT_HOSTED_CONTENTS: string(exportHostedContents)
  EXPORT_ATTACHMENTS: string(exportAttachments)
  EXPORT_RETAINED: string(exportRetained)
  EXPORT_DELETED_TEAMS: string(exportDeletedTeams)
  // Copilot interactions and meeting artifacts, each off unless switched on (each needs roles of its own).
  EXPORT_COPILOT: string(exportCopilot)
  EXPORT_MEETINGS: string(exportMeetings)
  EXPORT_RECORDING_MAX_BYTES: string(exportRecordingMaxMB * 1048576)
  EXPORT_INCLUDE_USERS: exportIncludeUsers
  EXPORT_EXCLUDE_USERS: exportExcludeUsers
  EXPORT_INCLUDE_TEAMS: exportIncludeTeams
  EXPORT_EXCLUDE_TEAMS: exportExcludeTeams
  GRAPH_BASE_URL: graphBaseUrl
  GRAPH_MAX_RPS: string(graphMaxRps)
  // Each instance takes GRAPH_MAX_RPS / GRAPH_INSTANCES; all groups together never run more instances than this.
  GRAPH_INSTANCES: string(graphInstances)
  // The Copilot API's and the meeting artifacts' budgets inside GRAPH_MAX_RPS, also for the whole app: each
  // instance takes GRAPH_COPILOT_RPS / GRAPH_INSTANCES and GRAPH_MEETING_RPS / GRAPH_INSTANCES.
  GRAPH_COPILOT_RPS: string(graphCopilotRps)
  GRAPH_MEETING_RPS: string(graphMeetingRps)
  LOG_LEVEL: logLevel
  AZURE_TENANT_ID: tenant().tenantId
  // Managed identity mode: the user-assigned identity's client id (no secret: ManagedIdentityCredential).
  // Client-secret mode: the app registration's client id, with the secret below.
  AZURE_CLIENT_ID: useClientSecret ? graphClientId : identityClientId
  // Who may call the HTTP functions (docs/security.md): entra = App Service Authentication in front and
  // the handlers check app roles; function-keys only when asked for, and then sign-in is off.
  HTTP_AUTH: allowFunctionKeys ? 'function-keys' : 'entra'
}

// App Service Authentication's settings (docs/security.md, "Setting up Entra sign-in"): the identity whose
// federated credential replaces the registration's client secret (clientSecretSettingName in
// function-auth.bicep names this setting), and only tokens issued by this tenant.
var signInSettings = allowFunctionKeys ? {} : {
  OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID: authIdentityClientId
  WEBSITE_AUTH_AAD_ALLOWED_TENANTS: tenant().tenantId
}

var graphSecretSettings = useClientSecret ? {
  AZURE_CLIENT_SECRET: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=graph-client-secret)'
} : {}
// app-settings:end

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: union({ '${identityId}': {} }, empty(authIdentityId) ? {} : { '${authIdentityId}': {} })
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references (client-secret mode) resolve with the user-assigned identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(hostSettings, exportSettings, graphSecretSettings, signInSettings)
}

// Basic publishing credentials off: no FTP user and no SCM (Kudu) password can deploy code or read files.
// `azd deploy` and `func azure functionapp publish` authenticate to the SCM site with Entra instead.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

// The Function App's own logs (function executions and host events, and App Service Authentication's
// sign-in log where the platform offers it) to the Log Analytics workspace: every category the site
// offers, so a category the Flex Consumption plan lacks cannot fail the deployment.
resource siteDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'function-app-to-log-analytics'
  scope: site
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output uri string = 'https://${site.properties.defaultHostName}'
