// App Service Authentication (Easy Auth) in front of the Function App: every request must carry an Entra
// sign-in, a browser session or a bearer token, before it reaches any function, and an unauthenticated
// request gets 401 (the HTTP functions register with authLevel anonymous under HTTP_AUTH=entra, so this
// is the only door; the handlers then check the app roles: docs/security.md). Shaped after Microsoft's
// Flex Consumption sample with Entra sign-in (Azure-Samples/remote-mcp-functions-typescript,
// infra/app/api.bicep, config 'authsettingsV2'); API: Microsoft.Web/sites/config 'authsettingsV2'.
//
// With allowFunctionKeys (enabled = false) the same resource is deployed switched off, so turning the
// opt-in back off switches sign-in on again.
param siteName string
@description('false only with allowFunctionKeys: then the Functions host checks function keys instead.')
param enabled bool
@description('The sign-in registration\'s application (client) id; empty only when enabled is false.')
param clientId string
@description('Token audiences accepted: the client id and the Application ID URI.')
param allowedAudiences array

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: siteName
}

// Sign-in needs a registration: refuse to deploy Entra sign-in without one rather than deploy a door that
// lets nobody in (or one that validates nothing).
var missingClientId = 'App Service Authentication needs the sign-in registration\'s client id: set TEAMS_EXPORT_AUTH_CLIENT_ID, or leave it empty to let the deployment create the registration (docs/security.md, "Setting up Entra sign-in")'
var checkedClientId = enabled && empty(clientId) ? fail(missingClientId) : clientId

resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: enabled
    }
    globalValidation: {
      // Every path, the viewer's pages included: no excludedPaths. An API client without a token gets
      // 401 (never a login redirect it cannot follow); people sign in at /.auth/login/aad first
      // (VIEWER_SIGN_IN_URL, docs/security.md).
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      redirectToProvider: 'azureactivedirectory'
    }
    httpSettings: {
      requireHttps: true
      routes: {
        apiPrefix: '/.auth'
      }
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: enabled
        registration: {
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
          clientId: checkedClientId
          // No client secret anywhere: the app setting of this name holds the client id of a managed
          // identity that the registration trusts through a federated identity credential
          // (function-app.bicep, entra-app.bicep).
          clientSecretSettingName: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
        }
        validation: {
          allowedAudiences: allowedAudiences
          // Any client application of the tenant may present a token (the browser sign-in, the Azure CLI,
          // an automation app): who may do what is decided by the app roles, which Entra issues only to
          // principals assigned one (appRoleAssignmentRequired on the registration's service principal).
          defaultAuthorizationPolicy: {
            allowedApplications: []
          }
        }
        login: {
          disableWWWAuthenticate: false
        }
      }
    }
    login: {
      // The app calls no API on the signed-in person's behalf: their tokens need not be kept anywhere.
      tokenStore: {
        enabled: false
      }
      preserveUrlFragmentsForLogins: false
      cookieExpiration: {
        convention: 'FixedTime'
        timeToExpiration: '08:00:00'
      }
      nonce: {
        validateNonce: true
        nonceExpirationInterval: '00:05:00'
      }
    }
  }
}
