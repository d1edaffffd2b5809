// Everything teams-export needs in one resource group: a user-assigned identity, host and archive
// storage (no shared keys), the Function App on Flex Consumption, monitoring with alerts, the role
// assignments, and the opt-in Key Vault (client-secret mode) and Graph app-role assignment.
targetScope = 'resourceGroup'

param location string = resourceGroup().location
param tags object = {}
@description('Seeds unique resource names; main.bicep passes one derived from the azd environment.')
param resourceToken string = toLower(uniqueString(resourceGroup().id))

// 40: the lowest maximum every Flex Consumption region has accepted (some now accept less). 200: with
// the app's six scale groups GRAPH_INSTANCES stays within the 1200 the app accepts (docs/deploy.md, "Graph budget").
@minValue(1)
@maxValue(200)
@description('Flex Consumption maximum instance count, per function scale group. GRAPH_INSTANCES is this times the number of scale groups, so the whole app never exceeds GRAPH_MAX_RPS however far each group scales.')
param maximumInstanceCount int = 40
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(10000)
@description('GRAPH_MAX_RPS: client-side request budget for the whole tenant (Graph allows about 200/s per app per tenant for export).')
param graphMaxRps int = 150
// The Copilot API has its own limit inside the Graph budget: about 30 requests/s per app and tenant, and
// about 83% of that sustained (docs/deploy.md, "Graph budget"); 25 stays under both. Like graphMaxRps these
// are budgets of the whole app: each instance takes the budget / GRAPH_INSTANCES.
@minValue(1)
@maxValue(30)
@description('GRAPH_COPILOT_RPS: the Copilot interaction export\'s request budget for the whole app (Graph allows about 30/s per app and tenant); each instance takes this / GRAPH_INSTANCES.')
param graphCopilotRps int = 25
@minValue(1)
@maxValue(30)
@description('GRAPH_MEETING_RPS: the meeting transcripts\' and recordings\' request budget for the whole app (listings and content); each instance takes this / GRAPH_INSTANCES.')
param graphMeetingRps int = 10
@description('GRAPH_BASE_URL: Graph root (change for sovereign clouds).')
param graphBaseUrl string = 'https://graph.microsoft.com/v1.0'

@description('EXPORT_SCHEDULE: NCRONTAB (UTC) of the daily run.')
param exportSchedule string = '0 30 2 * * *'
@description('EXPORT_START: where the first run starts (ISO-8601 UTC instant).')
param exportStart string = '2016-01-01T00:00:00Z'
@allowed(['all', 'none'])
param exportUsers string = 'all'
@allowed(['all', 'none'])
param exportTeams string = 'all'
@description('EXPORT_CHAT_MODE: custodian (each user\'s full view of their chats) or sender (each message once: by its sender, or once per chat for outside senders and system events).')
@allowed(['custodian', 'sender'])
param exportChatMode string = 'custodian'
@description('EXPORT_HOSTED_CONTENTS: store pasted images, code snippets and custom emoji (content/).')
param exportHostedContents bool = true
@description('EXPORT_ATTACHMENTS: store SharePoint/OneDrive file attachments (content/); grant Files.Read.All too.')
param exportAttachments bool = false
@description('EXPORT_RETAINED: also export getAllRetainedMessages (needs a Teams retention policy) into retained/.')
param exportRetained bool = false
@description('EXPORT_DELETED_TEAMS: also export deleted teams while Graph still serves them.')
param exportDeletedTeams bool = true
@description('EXPORT_COPILOT: also export each user\'s Microsoft 365 Copilot interactions (copilot/). Off by default: it needs AiEnterpriseInteraction.Read.All, which assignGraphAppRoles then adds (docs/deploy.md, "Copilot interactions and meetings").')
param exportCopilot bool = false
@description('EXPORT_MEETINGS: also export the transcripts and recordings of the meetings each user organised (meetings/). Off by default: it needs OnlineMeetingTranscript.Read.All and OnlineMeetingRecording.Read.All, which assignGraphAppRoles then adds, an application access policy and the tenant\'s Graph transcript access (docs/deploy.md, "Copilot interactions and meetings").')
param exportMeetings bool = false
// MiB, not bytes: a whole number of MiB covers every sensible cap, and 2 GiB in bytes is past the 32-bit
// integers some deployment tools pass inline. 1 MiB to 1 TiB: within what the app accepts (1024 bytes – 1 TiB).
@minValue(1)
@maxValue(1048576)
@description('EXPORT_RECORDING_MAX_BYTES, in MiB: recordings larger than this are not stored but recorded as too-large in the content map (default 2048 = 2 GiB).')
param exportRecordingMaxMB int = 2048
@description('Comma-separated user ids or UPNs; empty = everyone.')
param exportIncludeUsers string = ''
param exportExcludeUsers string = ''
@description('Comma-separated team ids or display names; empty = every team.')
param exportIncludeTeams string = ''
param exportExcludeTeams string = ''
@allowed(['debug', 'info', 'warn', 'error'])
param logLevel string = 'info'

@description('EXPORT_CONTAINER: the archive container (WORM and lifecycle rules apply to it).')
param archiveContainerName string = 'teams-export'
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
param archiveStorageSku string = 'Standard_LRS'

@description('Version-level WORM on the archive container: every blob version (batches, manifests, the audit trail) stays immutable for immutabilityDays. On by default; decide before the first deployment, because an existing container must be migrated to turn it on later and it can never be turned off (docs/deploy.md, "Lock WORM").')
param enableImmutability bool = true
@minValue(1)
@maxValue(146000)
@description('Days each blob version stays immutable after it is written (unlocked policy; lock it after verifying).')
param immutabilityDays int = 2555
@description('Set once the container\'s immutability policy is locked (docs/deploy.md, "Lock WORM"): the deployment then leaves the policy alone, because a locked policy can only be extended.')
param immutabilityPolicyLocked bool = false
@minValue(0)
@description('Move batches to the Cool tier this many days after they were written (0 = never).')
param lifecycleCoolAfterDays int = 0
@minValue(0)
@description('Move batches to the Archive tier this many days after they were written (0 = never). Archived batches must be rehydrated before they can be read, de-duplicated against or backfilled over.')
param lifecycleArchiveAfterDays int = 0

@allowed(['managedIdentity', 'clientSecret'])
@description('managedIdentity: Graph tokens for the user-assigned identity (no secret anywhere). clientSecret: an app registration whose secret is read from Key Vault.')
param graphAuthMode string = 'managedIdentity'
@description('clientSecret mode only: the app registration (client) id.')
param graphClientId string = ''

@description('Assign the Graph application roles to the managed identity during deployment (Microsoft Graph Bicep extension; the deploying user needs rights to grant app roles).')
param assignGraphAppRoles bool = false
// Channel.ReadBasic.All: GET /teams/{id}/channels (the directory snapshot's channel names); least privileged
// tenant-wide application permission per the Graph reference for "List channels" (docs/deploy.md, "Graph roles").
param graphAppRoles array = ['Chat.Read.All', 'ChannelMessage.Read.All', 'Channel.ReadBasic.All', 'User.Read.All', 'Team.ReadBasic.All']

@description('E-mail address for the run alerts (empty: alerts fire without a notification).')
param alertEmail string = ''
@minValue(1)
@maxValue(47)
@description('Alert when no daily run has finished for this many hours.')
param missedRunHours int = 26
// 30 to 730: the interactive retention a pay-as-you-go (PerGB2018) Log Analytics workspace accepts.
@minValue(30)
@maxValue(730)
@description('Days the Log Analytics workspace keeps everything sent to it: telemetry, and the diagnostic logs of the archive storage (blob reads, writes, deletes), the Key Vault and the Function App.')
param logRetentionDays int = 30

@description('Client-secret mode: purge protection on the Key Vault. Off by default so `azd down --purge` frees the vault name; with it on, a deleted vault keeps its name for the retention period (set keyVaultNameOverride to redeploy sooner).')
param keyVaultPurgeProtection bool = false
@description('Client-secret mode: the Key Vault name; empty = kv-tx-{token}.')
@maxLength(24)
param keyVaultNameOverride string = ''

@description('Object id of an operator (user or group) who may read the archive and state with the CLI and set the Key Vault secret. Empty: none.')
param operatorPrincipalId string = ''
@allowed(['User', 'Group', 'ServicePrincipal'])
param operatorPrincipalType string = 'User'
@description('Opt-in: give the operator write access to the archive (Blob and Table Data Contributor) instead of read-only access, e.g. to run exports or backfills from the CLI. Off: Blob and Table Data Reader, plus appending the CLI\'s own audit records under audit/.')
param operatorArchiveWrite bool = false

@description('Opt-in, the weaker choice: protect the HTTP functions with function keys (HTTP_AUTH=function-keys) instead of Entra sign-in. App Service Authentication is then switched off (docs/security.md).')
param allowFunctionKeys bool = false
@description('Entra sign-in with an app registration made outside this deployment: its application (client) id. Empty: the deployment creates the registration with the Microsoft Graph Bicep extension (docs/security.md, "Setting up Entra sign-in").')
param authClientId string = ''
@description('With authClientId: the registration\'s Application ID URI (e.g. api://{tenant id}/teams-export), accepted as token audience next to the client id.')
param authAppIdUri string = ''

var useClientSecret = graphAuthMode == 'clientSecret'
// The roles each kind switched on adds to graphAppRoles (docs/deploy.md, "Graph roles"). Meetings need no
// OnlineMeetings.Read.All: the app reads transcripts and recordings, never the onlineMeeting objects.
var kindAppRoles = concat(exportAttachments ? ['Files.Read.All'] : [], exportCopilot ? ['AiEnterpriseInteraction.Read.All'] : [], exportMeetings ? ['OnlineMeetingTranscript.Read.All', 'OnlineMeetingRecording.Read.All'] : [])
// Client-secret mode without the registration's id would deploy an app whose Graph token requests all fail.
var graphClientIdError = 'graphClientId (TEAMS_EXPORT_GRAPH_CLIENT_ID) is required when graphAuthMode is clientSecret: the app registration\'s application (client) id'
var checkedGraphClientId = useClientSecret && empty(graphClientId) ? fail(graphClientIdError) : graphClientId
// Entra sign-in unless function keys were asked for; the registration is created here unless one was given.
var useEntraAuth = !allowFunctionKeys
var createAuthApp = useEntraAuth && empty(authClientId)

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-teams-export-${resourceToken}'
  location: location
  tags: tags
}

// App Service Authentication's credential for the sign-in registration: a federated identity credential
// trusts this identity instead of a client secret. Microsoft asks for an identity that serves only this
// registration, so it is not the app's own identity (docs/security.md, "Setting up Entra sign-in").
resource authIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (useEntraAuth) {
  name: 'id-teams-export-auth-${resourceToken}'
  location: location
  tags: tags
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-teams-export-${resourceToken}'
    applicationInsightsName: 'appi-teams-export-${resourceToken}'
    logRetentionDays: logRetentionDays
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    hostStorageName: 'sthost${resourceToken}'
    archiveStorageName: 'starch${resourceToken}'
    archiveStorageSku: archiveStorageSku
    archiveContainerName: archiveContainerName
    deploymentContainerName: 'app-package'
    enableImmutability: enableImmutability
    immutabilityDays: immutabilityDays
    immutabilityPolicyLocked: immutabilityPolicyLocked
    lifecycleCoolAfterDays: lifecycleCoolAfterDays
    lifecycleArchiveAfterDays: lifecycleArchiveAfterDays
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module keyVault 'app/key-vault.bicep' = if (useClientSecret) {
  name: 'keyVault'
  params: {
    location: location
    tags: tags
    name: !empty(keyVaultNameOverride) ? keyVaultNameOverride : 'kv-tx-${resourceToken}'
    identityPrincipalId: identity.properties.principalId
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
    enablePurgeProtection: keyVaultPurgeProtection
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  params: {
    hostStorageName: storage.outputs.hostStorageName
    archiveStorageName: storage.outputs.archiveStorageName
    archiveContainerName: storage.outputs.archiveContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityPrincipalId: identity.properties.principalId
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
    operatorArchiveWrite: operatorArchiveWrite
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'functionApp'
  params: {
    location: location
    tags: tags
    planName: 'plan-teams-export-${resourceToken}'
    name: 'func-teams-export-${resourceToken}'
    identityId: identity.id
    identityClientId: identity.properties.clientId
    hostStorageName: storage.outputs.hostStorageName
    archiveStorageName: storage.outputs.archiveStorageName
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    graphMaxRps: graphMaxRps
    graphCopilotRps: graphCopilotRps
    graphMeetingRps: graphMeetingRps
    graphBaseUrl: graphBaseUrl
    archiveContainerName: archiveContainerName
    exportSchedule: exportSchedule
    exportStart: exportStart
    exportUsers: exportUsers
    exportTeams: exportTeams
    exportChatMode: exportChatMode
    exportHostedContents: exportHostedContents
    exportAttachments: exportAttachments
    exportRetained: exportRetained
    exportDeletedTeams: exportDeletedTeams
    exportCopilot: exportCopilot
    exportMeetings: exportMeetings
    exportRecordingMaxMB: exportRecordingMaxMB
    exportIncludeUsers: exportIncludeUsers
    exportExcludeUsers: exportExcludeUsers
    exportIncludeTeams: exportIncludeTeams
    exportExcludeTeams: exportExcludeTeams
    logLevel: logLevel
    useClientSecret: useClientSecret
    graphClientId: checkedGraphClientId
    keyVaultName: useClientSecret ? keyVault!.outputs.name : ''
    allowFunctionKeys: allowFunctionKeys
    authIdentityId: useEntraAuth ? authIdentity.id : ''
    authIdentityClientId: useEntraAuth ? authIdentity!.properties.clientId : ''
  }
  // The host starts as soon as the site exists: its storage and telemetry roles must be in place first.
  dependsOn: [rbac]
}

// The sign-in registration with the four app roles, created by the deployer (Microsoft Graph Bicep
// extension) unless authClientId names one made beforehand (docs/security.md, "Setting up Entra sign-in").
module entraApp 'app/entra-app.bicep' = if (createAuthApp) {
  name: 'entraApp'
  params: {
    uniqueName: 'teams-export-${resourceToken}'
    displayName: 'teams-export (${functionApp.outputs.name})'
    appIdUri: 'api://${tenant().tenantId}/teams-export-${resourceToken}'
    redirectHostName: functionApp.outputs.defaultHostName
    authIdentityPrincipalId: authIdentity!.properties.principalId
  }
}

var signInClientId = createAuthApp ? entraApp!.outputs.clientId : authClientId
var signInAudiences = createAuthApp ? [entraApp!.outputs.clientId, entraApp!.outputs.appIdUri] : filter([authClientId, authAppIdUri], a => !empty(a))

// Always deployed, so switching allowFunctionKeys back to false switches sign-in on again: a deployment
// leaves a resource it no longer declares as it was.
module functionAuth 'app/function-auth.bicep' = {
  name: 'functionAuth'
  params: {
    siteName: functionApp.outputs.name
    enabled: useEntraAuth
    clientId: signInClientId
    allowedAudiences: signInAudiences
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    namePrefix: 'teams-export-${resourceToken}'
    alertEmail: alertEmail
    missedRunHours: missedRunHours
  }
}

// Entra replicates a new identity's service principal with a delay, and an app-role assignment made
// before it arrives fails ("Not a valid reference update", msgraph-bicep-types issue 193). Running
// last gives it the minutes the other resources take; if it still fails on the first `azd up`, run
// `azd provision` again: everything else is already in place (docs/deploy.md, "Graph roles").
module graphAppRoleAssignments 'app/graph-app-roles.bicep' = if (assignGraphAppRoles && !useClientSecret) {
  name: 'graphAppRoles'
  params: {
    principalId: identity.properties.principalId
    appRoles: union(graphAppRoles, kindAppRoles)
  }
  dependsOn: [functionApp, alerts]
}

output functionAppName string = functionApp.outputs.name
output functionAppUri string = functionApp.outputs.uri
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output hostStorageName string = storage.outputs.hostStorageName
output archiveStorageName string = storage.outputs.archiveStorageName
output archiveBlobEndpoint string = storage.outputs.archiveBlobEndpoint
output archiveTableEndpoint string = storage.outputs.archiveTableEndpoint
output applicationInsightsName string = monitoring.outputs.applicationInsightsName
output logAnalyticsName string = monitoring.outputs.logAnalyticsName
output keyVaultName string = useClientSecret ? keyVault!.outputs.name : ''
output authClientId string = signInClientId
output authAppIdUri string = createAuthApp ? entraApp!.outputs.appIdUri : authAppIdUri
output authIdentityPrincipalId string = useEntraAuth ? authIdentity!.properties.principalId : ''
