{{/* Shared helpers of the chaositbench game-day runner chart. */}}

{{/* The release-scoped base name of every object. */}}
{{- define "gameday.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Every object's labels. */}}
{{- define "gameday.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* The ClusterRole holding an agent's rights inside each allowed namespace (sandbox NAMESPACED_RULES). */}}
{{- define "gameday.agentRole" -}}
{{- printf "%s-agent-sre" (include "gameday.fullname" .) -}}
{{- end -}}

{{/* The agents' namespace, refused when it is the release namespace (its group gets cluster-wide read). */}}
{{- define "gameday.agentNamespace" -}}
{{- if eq .Values.agentIdentity.namespace .Release.Namespace -}}
{{- fail "agentIdentity.namespace must differ from the release namespace: every ServiceAccount in it gets the agents' cluster-wide read rights" -}}
{{- end -}}
{{- .Values.agentIdentity.namespace -}}
{{- end -}}

{{/* The job's activeDeadlineSeconds: the sum over the scenarios of SLA + margin, times the bench repeats and agents. */}}
{{- define "gameday.deadline" -}}
{{- $total := 0 -}}
{{- range .Values.scenarios -}}
{{- $sla := index $.Values.slaSeconds . | required (printf "scenario %q has no entry in slaSeconds" .) -}}
{{- $total = add $total $sla $.Values.marginSeconds -}}
{{- end -}}
{{- if eq .Values.mode "bench" -}}
{{- $total = mul $total .Values.bench.repeat (add1 (len .Values.bench.extraAgents)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/* The name of the results claim. */}}
{{- define "gameday.claim" -}}
{{- .Values.results.persistence.existingClaim | default (printf "%s-results" (include "gameday.fullname" .)) -}}
{{- end -}}
