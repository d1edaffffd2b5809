// Log alerts on Application Insights for the daily run: one when it fails, one when none has finished
// for missedRunHours (the timer did not fire, the host is down, or a run hangs).
//
// They read the app's own log lines, which the Functions Node worker writes to the `traces` table as
// the message followed by the logged fields (util.format), e.g.
//   run finished { dequeueCount: 1, runId: 'daily-20261127T023000Z', entity: 'users:…', attempt: 1, status: 'failed', planned: 120, … }
// Lines used (src/export/run-close.ts, src/export/run-lifecycle.ts, src/app/start-run.ts, functions/daily-export.ts):
//   'run finished'                     (runId, status: succeeded|failed), written when a run's last job ends
//   'run failed'                       (runId, error), when a run cannot enumerate users and teams, or at once
//                                      when Graph refuses the app itself (a missing permission: error names the fix)
//   'daily run could not be started'   when the timer invocation throws
// and the `requests` row of the dailyExport timer invocation. If those messages or field names change,
// change the queries here (test/infra/alert-queries.test.ts checks that the code still logs them).
param location string
param tags object
param applicationInsightsId string
param namePrefix string
param alertEmail string
param missedRunHours int

var failedRunQuery = '''
let dailyRunLines = traces
  | extend runId = extract(@"runId: '([^']+)'", 1, message), status = extract(@"\bstatus: '([^']+)'", 1, message);
union
  (dailyRunLines | where message startswith "run finished" and runId startswith "daily-" and status == "failed"
     | project timestamp, runId, reason = "daily run finished with status failed"),
  (dailyRunLines | where message startswith "run failed" and runId startswith "daily-"
     | project timestamp, runId, reason = "daily run failed early: users and teams not listed, or Graph refused the app (a permission or setting to fix)"),
  (traces | where message startswith "daily run could not be started"
     | project timestamp, runId = "", reason = "daily run could not be started"),
  (requests | where name == "dailyExport" and success == false
     | project timestamp, runId = "", reason = "dailyExport invocation failed")
'''

var missedRunQuery = replace('''
traces
| where timestamp > ago(__HOURS__h)
| where message startswith "run finished"
| extend runId = extract(@"runId: '([^']+)'", 1, message)
| where runId startswith "daily-"
| count
| where Count == 0
| project timestamp = now(), reason = "no daily run finished in the last __HOURS__ hours"
''', '__HOURS__', string(missedRunHours))

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'teamsexport'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = empty(alertEmail) ? {} : { actionGroups: [actionGroup.id] }

resource dailyRunFailed 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-daily-run-failed-${namePrefix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'teams-export: daily run failed'
    description: 'A daily export run failed (Graph refused the app a permission or API, an entity failed, Graph refused every entity, planning failed, or the timer invocation threw). Look the run up with GET /api/runs/{runId} or teams-export status: its error names what to fix.'
    severity: 1
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: failedRunQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    // Every failure is its own event: no automatic resolution.
    autoMitigate: false
    actions: actions
  }
}

resource dailyRunMissing 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-daily-run-missing-${namePrefix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'teams-export: no daily run finished'
    description: 'No daily export run has finished in the last ${missedRunHours} hours. Expected while the first export works through the history; otherwise check that the app is running and the dailyExport timer fires.'
    severity: 2
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    // The query filters its own time range (missedRunHours); this only has to cover it.
    overrideQueryTimeRange: 'P2D'
    criteria: {
      allOf: [
        {
          query: missedRunQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}
