// Opt-in (assignGraphAppRoles): grants the managed identity Microsoft Graph application roles at
// deployment time with the Microsoft Graph Bicep extension. The deploying user needs the right to
// grant app roles (Privileged Role Administrator, or AppRoleAssignment.ReadWrite.All + Application.Read.All).
extension microsoftGraphV1

@description('Object (principal) id of the managed identity.')
param principalId string
@description('Graph application role names, e.g. Chat.Read.All.')
param appRoles array

// Microsoft Graph's service principal in this tenant (its appId is the same everywhere).
resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: '00000003-0000-0000-c000-000000000000'
}

// Role ids are looked up by name from Graph's own appRoles, so a typo fails the deployment.
resource assignments 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for role in appRoles: {
    principalId: principalId
    resourceId: graph.id
    appRoleId: filter(graph.appRoles, r => r.value == role)[0].id
  }
]
