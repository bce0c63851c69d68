{{/* Chart name, overridable so one chart can be installed under another name. */}}
{{- define "pyairtable-stack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped base name: "<release>" (the guide's objects are "<release>-postgres-..."). */}}
{{- define "pyairtable-stack.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* "<release>-postgres": the primary StatefulSet, its Service, and the prefix of every PostgreSQL object. */}}
{{- define "pyairtable-stack.postgres.fullname" -}}
{{- printf "%s-postgres" (include "pyairtable-stack.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries (Kubernetes recommended labels). */}}
{{- define "pyairtable-stack.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "pyairtable-stack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pyairtable-stack
{{- end -}}

{{/* Selector labels shared by all PostgreSQL pods of a release (name + instance). */}}
{{- define "pyairtable-stack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pyairtable-stack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component; call with (dict "ctx" $ "component" "postgres-backup"). */}}
{{- define "pyairtable-stack.postgres.labels" -}}
{{ include "pyairtable-stack.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "postgres-primary"). */}}
{{- define "pyairtable-stack.postgres.selectorLabels" -}}
{{ include "pyairtable-stack.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}
