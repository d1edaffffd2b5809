// The Entra app registration people and automation sign in to (docs/security.md, "Setting up Entra
// sign-in"), created by the deploying user with the Microsoft Graph Bicep extension. It needs the right to
// register applications (the tenant's default "Users can register applications", or the Application
// Developer role); without it, give an existing registration's client id instead (authClientId).
// Shaped after Microsoft's samples: Azure-Samples/remote-mcp-functions-typescript (infra/app/entra.bicep:
// registration, user_impersonation scope, App Service Authentication redirect URI, a managed identity
// as federated credential) and microsoftgraph/msgraph-bicep-types (quickstart-templates/
// application-serviceprincipal-create-client-resource: app roles; msi-as-a-fic-secretless: the FIC).
extension microsoftGraphV1

@description('Immutable alternate key of the registration: the same name updates the same registration on every deployment.')
param uniqueName string
param displayName string
@description('The Application ID URI, api://{tenant id}/{name}: a format Entra accepts without a verified domain.')
param appIdUri string
@description('The Function App\'s host name: App Service Authentication\'s callback is https://{host}/.auth/login/aad/callback.')
param redirectHostName string
@description('Principal (object) id of the managed identity App Service Authentication presents instead of a client secret.')
param authIdentityPrincipalId string

// The app roles the HTTP handlers check (docs/security.md, "App roles"). Ids derive from the registration's
// unique name and the role, so they never change between deployments: Entra refuses to change the id of
// a role that is assigned. Each role can be assigned to people and groups (User) and to other apps'
// service principals (Application: client-credentials automation).
var appRoles = [
  {
    value: 'Archive.Read'
    displayName: 'Read the archive'
    description: 'Open the viewer, list and read the archive, and follow runs.'
  }
  {
    value: 'Archive.Produce'
    displayName: 'Create and download productions'
    description: 'Create RSMF productions, follow them and download their files.'
  }
  {
    value: 'Archive.Operate'
    displayName: 'Operate exports'
    description: 'Start backfills and follow runs.'
  }
  {
    value: 'Archive.Audit'
    displayName: 'Read the audit trail'
    description: 'Read who read what (GET /api/audit).'
  }
]

// Lets a signed-in person call the API with a token of their own (az account get-access-token); the Azure
// CLI is pre-authorized for it so nobody has to consent. The roles, not this scope, decide what they may do.
var userImpersonationId = guid(uniqueName, 'user_impersonation')
var azureCliAppId = '04b07795-8ddb-461a-bbee-02f9e1bf7b46'

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  identifierUris: [appIdUri]
  appRoles: [
    for role in appRoles: {
      id: guid(uniqueName, role.value)
      value: role.value
      displayName: role.displayName
      description: role.description
      allowedMemberTypes: ['User', 'Application']
      isEnabled: true
    }
  ]
  api: {
    // v2 tokens: the audience is the client id, the issuer login.microsoftonline.com/{tenant}/v2.0.
    requestedAccessTokenVersion: 2
    oauth2PermissionScopes: [
      {
        id: userImpersonationId
        value: 'user_impersonation'
        type: 'User'
        isEnabled: true
        adminConsentDisplayName: 'Access teams-export'
        adminConsentDescription: 'Call the teams-export API as the signed-in user, with the app roles assigned to them.'
        userConsentDisplayName: 'Access teams-export'
        userConsentDescription: 'Call the teams-export API as you, with the app roles assigned to you.'
      }
    ]
    preAuthorizedApplications: [
      {
        appId: azureCliAppId
        delegatedPermissionIds: [userImpersonationId]
      }
    ]
  }
  web: {
    redirectUris: ['https://${redirectHostName}/.auth/login/aad/callback']
    implicitGrantSettings: {
      // App Service Authentication's sign-in takes an ID token back from the authorization endpoint.
      enableIdTokenIssuance: true
      enableAccessTokenIssuance: false
    }
  }

  // No client secret: App Service Authentication proves it is this app with a token of the dedicated
  // managed identity (Microsoft: "Use a managed identity instead of a secret" for App Service
  // Authentication; audience api://AzureADTokenExchange, issuer this tenant's v2.0 endpoint).
  resource appServiceAuthCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${app.uniqueName}/app-service-authentication'
    description: 'App Service Authentication of the teams-export Function App signs users in with this managed identity instead of a client secret'
    audiences: ['api://AzureADTokenExchange']
    issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
    subject: authIdentityPrincipalId
  }
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
  // Only principals assigned one of the app roles get a token for this app at all: everyone else is
  // refused at sign-in, before the app's own role checks.
  appRoleAssignmentRequired: true
}

output clientId string = app.appId
output appIdUri string = appIdUri
output servicePrincipalId string = servicePrincipal.id
output appRoleIds object = toObject(appRoles, r => r.value, r => guid(uniqueName, r.value))
