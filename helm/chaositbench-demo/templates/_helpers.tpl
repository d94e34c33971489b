{{/*
Shared helpers of the chaositbench demo chart. Components are addressed by their key under
.Values.components; helpers that need a component take (dict "root" $ "name" <key>).
*/}}

{{/* The chart label value: name-version. */}}
{{- define "demo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The namespace a component lives in. */}}
{{- define "demo.namespace" -}}
{{- $c := index .root.Values.components .name -}}
{{- required (printf "namespaces.%s is not set (component %s)" $c.namespace .name) (index .root.Values.namespaces $c.namespace) -}}
{{- end -}}

{{/* The in-cluster DNS name of a component's Service. */}}
{{- define "demo.host" -}}
{{- printf "%s.%s.svc.%s" .name (include "demo.namespace" .) .root.Values.clusterDomain -}}
{{- end -}}

{{/* Labels selecting a component's pods. */}}
{{- define "demo.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* Every object's labels. */}}
{{- define "demo.labels" -}}
{{ include "demo.selectorLabels" . }}
app.kubernetes.io/component: {{ (index .root.Values.components .name).role }}
app.kubernetes.io/part-of: chaositbench-demo
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "demo.chart" .root }}
{{- end -}}

{{/* Labels of namespace-wide objects (namespaces, shared ConfigMaps and Secrets, policies). */}}
{{- define "demo.commonLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: chaositbench-demo
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "demo.chart" . }}
{{- end -}}

{{/* The namespaces (values) in which some enabled component lives, sorted and unique. */}}
{{- define "demo.activeNamespaces" -}}
{{- $out := list -}}
{{- range $name, $c := .Values.components -}}
{{- if $c.enabled -}}
{{- $out = append $out (include "demo.namespace" (dict "root" $ "name" $name)) -}}
{{- end -}}
{{- end -}}
{{- $out | uniq | sortAlpha | toJson -}}
{{- end -}}

{{/* Namespaces that need the postgres-credentials Secret, sorted and unique. */}}
{{- define "demo.secretNamespaces" -}}
{{- $out := list -}}
{{- range $name, $c := .Values.components -}}
{{- if and $c.enabled $c.secretEnv -}}
{{- $out = append $out (include "demo.namespace" (dict "root" $ "name" $name)) -}}
{{- end -}}
{{- end -}}
{{- $out | uniq | sortAlpha | toJson -}}
{{- end -}}

{{/*
The chaositbench.io/needs declaration of a component's container "app", as JSON (which is YAML):
what the behaviour model of the simulated cluster reads and files/app.py honours on a real one.
*/}}
{{- define "demo.needs" -}}
{{- $root := .root -}}
{{- $c := index $root.Values.components .name -}}
{{- $listen := dict "port" (int $c.port) "protocol" "TCP" -}}
{{- if eq $c.protocol "http" -}}
{{- $paths := dict -}}
{{- range $path, $code := $c.paths -}}
{{- $_ := set $paths $path (int $code) -}}
{{- end -}}
{{- $_ := set $paths $c.probes.liveness 200 -}}
{{- $_ := set $paths $c.probes.readiness 200 -}}
{{- $_ := set $listen "paths" $paths -}}
{{- end -}}
{{- $deps := list -}}
{{- range $c.dependsOn -}}
{{- $target := index $root.Values.components .component -}}
{{- $required := true -}}
{{- if hasKey . "required" -}}{{- $required = .required -}}{{- end -}}
{{- $readiness := $required -}}
{{- if hasKey . "readiness" -}}{{- $readiness = .readiness -}}{{- end -}}
{{- $deps = append $deps (dict "name" .component "host" (include "demo.host" (dict "root" $root "name" .component)) "port" (int $target.port) "timeoutSeconds" (.timeoutSeconds | default 2) "required" $required "readiness" $readiness) -}}
{{- end -}}
{{- $env := list -}}
{{- range $var := concat (keys $c.config) (keys $c.secretEnv) | sortAlpha -}}
{{- $need := dict "name" $var "required" true -}}
{{- $rule := index $c.envRules $var | default dict -}}
{{- if $rule.oneOf -}}{{- $_ := set $need "oneOf" $rule.oneOf -}}{{- end -}}
{{- if $rule.pattern -}}{{- $_ := set $need "pattern" $rule.pattern -}}{{- end -}}
{{- $env = append $env $need -}}
{{- end -}}
{{- $files := list -}}
{{- if $c.files -}}
{{- range $file := keys $c.files.data | sortAlpha -}}
{{- $files = append $files (dict "path" (printf "%s/%s" $c.files.mountPath $file) "requiredKeys" (index $c.files.requiredKeys $file | default list)) -}}
{{- end -}}
{{- end -}}
{{- $app := dict
  "memory" $c.needs.memory
  "cpu" (dict "usage" $c.needs.cpu)
  "ephemeralStorage" $c.needs.ephemeralStorage
  "startupSeconds" $c.needs.startupSeconds
  "listen" (list $listen)
  "dependencies" $deps
  "env" $env
  "files" $files
  "logs" $c.logs -}}
{{- if $c.kubernetesApi -}}
{{- $requests := list -}}
{{- range $c.kubernetesApi -}}
{{- $requests = append $requests (merge (dict "namespace" (include "demo.namespace" (dict "root" $root "name" $.name))) .) -}}
{{- end -}}
{{- $_ := set $app "kubernetesApi" $requests -}}
{{- end -}}
{{- if $c.needs.cpuPerRequest -}}
{{- $_ := set $app.cpu "perRequest" $c.needs.cpuPerRequest -}}
{{- end -}}
{{- if $c.load -}}
{{- $_ := set $app "load" (dict "rps" $c.load.rps "path" $c.load.path "port" (int $c.port)) -}}
{{- end -}}
{{- dict "app" $app | toJson -}}
{{- end -}}
