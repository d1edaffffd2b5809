// Entry point for `azd up` / `az deployment sub create`: creates the resource group and deploys
// resources.bicep into it. Every product parameter is forwarded unchanged (see resources.bicep for
// what each one means); `az deployment group create -f infra/resources.bicep` deploys into an
// existing resource group instead.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds the unique resource names.')
param environmentName string

// The regions offering the Flex Consumption plan, as Microsoft's own Flex Consumption template lists
// them (Azure-Samples/functions-quickstart-typescript-azd, infra/main.bicep, `location` @allowed).
// Microsoft's docs point to `az functionapp list-flexconsumption-locations` for the current list: when it
// names a region missing here, add it (docs/deploy.md, "Prerequisites").
@minLength(1)
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'eastus2euap'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@description('Region of every resource (must offer the Flex Consumption plan).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Resource group name; default rg-{environmentName}.')
param resourceGroupName string = ''

param maximumInstanceCount int = 40
param instanceMemoryMB int = 2048
param graphMaxRps int = 150
param graphCopilotRps int = 25
param graphMeetingRps int = 10
param graphBaseUrl string = 'https://graph.microsoft.com/v1.0'
param exportSchedule string = '0 30 2 * * *'
param exportStart string = '2016-01-01T00:00:00Z'
@allowed(['all', 'none'])
param exportUsers string = 'all'
@allowed(['all', 'none'])
param exportTeams string = 'all'
@allowed(['custodian', 'sender'])
param exportChatMode string = 'custodian'
param exportHostedContents bool = true
param exportAttachments bool = false
param exportRetained bool = false
param exportDeletedTeams bool = true
param exportCopilot bool = false
param exportMeetings bool = false
param exportRecordingMaxMB int = 2048
param exportIncludeUsers string = ''
param exportExcludeUsers string = ''
param exportIncludeTeams string = ''
param exportExcludeTeams string = ''
@allowed(['debug', 'info', 'warn', 'error'])
param logLevel string = 'info'
param archiveContainerName string = 'teams-export'
param archiveStorageSku string = 'Standard_LRS'
param enableImmutability bool = true
param immutabilityDays int = 2555
param immutabilityPolicyLocked bool = false
param lifecycleCoolAfterDays int = 0
param lifecycleArchiveAfterDays int = 0
@allowed(['managedIdentity', 'clientSecret'])
param graphAuthMode string = 'managedIdentity'
param graphClientId string = ''
param assignGraphAppRoles bool = false
param graphAppRoles array = ['Chat.Read.All', 'ChannelMessage.Read.All', 'Channel.ReadBasic.All', 'User.Read.All', 'Team.ReadBasic.All']
param alertEmail string = ''
param missedRunHours int = 26
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30
param keyVaultPurgeProtection bool = false
param keyVaultNameOverride string = ''
param operatorPrincipalId string = ''
@allowed(['User', 'Group', 'ServicePrincipal'])
param operatorPrincipalType string = 'User'
param operatorArchiveWrite bool = false
param allowFunctionKeys bool = false
param authClientId string = ''
param authAppIdUri string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module resources 'resources.bicep' = {
  name: 'teams-export-resources'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    graphMaxRps: graphMaxRps
    graphCopilotRps: graphCopilotRps
    graphMeetingRps: graphMeetingRps
    graphBaseUrl: graphBaseUrl
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
    archiveContainerName: archiveContainerName
    archiveStorageSku: archiveStorageSku
    enableImmutability: enableImmutability
    immutabilityDays: immutabilityDays
    immutabilityPolicyLocked: immutabilityPolicyLocked
    lifecycleCoolAfterDays: lifecycleCoolAfterDays
    lifecycleArchiveAfterDays: lifecycleArchiveAfterDays
    graphAuthMode: graphAuthMode
    graphClientId: graphClientId
    assignGraphAppRoles: assignGraphAppRoles
    graphAppRoles: graphAppRoles
    alertEmail: alertEmail
    missedRunHours: missedRunHours
    logRetentionDays: logRetentionDays
    keyVaultPurgeProtection: keyVaultPurgeProtection
    keyVaultNameOverride: keyVaultNameOverride
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
    operatorArchiveWrite: operatorArchiveWrite
    allowFunctionKeys: allowFunctionKeys
    authClientId: authClientId
    authAppIdUri: authAppIdUri
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = resources.outputs.functionAppName
output SERVICE_API_NAME string = resources.outputs.functionAppName
output SERVICE_API_URI string = resources.outputs.functionAppUri
output MANAGED_IDENTITY_CLIENT_ID string = resources.outputs.identityClientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = resources.outputs.identityPrincipalId
output HOST_STORAGE_ACCOUNT string = resources.outputs.hostStorageName
output ARCHIVE_STORAGE_ACCOUNT string = resources.outputs.archiveStorageName
output ARCHIVE_BLOB_ENDPOINT string = resources.outputs.archiveBlobEndpoint
output ARCHIVE_TABLE_ENDPOINT string = resources.outputs.archiveTableEndpoint
output ARCHIVE_CONTAINER string = archiveContainerName
output APPLICATIONINSIGHTS_NAME string = resources.outputs.applicationInsightsName
output AZURE_LOG_ANALYTICS_NAME string = resources.outputs.logAnalyticsName
output KEY_VAULT_NAME string = resources.outputs.keyVaultName
output AUTH_CLIENT_ID string = resources.outputs.authClientId
output AUTH_APP_ID_URI string = resources.outputs.authAppIdUri
output AUTH_IDENTITY_PRINCIPAL_ID string = resources.outputs.authIdentityPrincipalId
// Where people sign in to the hosted viewer (App Service Authentication; docs/security.md).
output VIEWER_SIGN_IN_URL string = '${resources.outputs.functionAppUri}/.auth/login/aad?post_login_redirect_uri=/api/viewer/'
