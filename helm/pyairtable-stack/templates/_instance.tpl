{{/*
Pod template of a PostgreSQL instance (primary or replica): `postgres-agent instance` plus the
optional postgres_exporter sidecar. Call with (dict "ctx" $ "role" "primary"|"replica").
*/}}
{{- define "pyairtable-stack.postgres.instancePod" -}}
{{- $ctx := .ctx -}}
{{- $role := .role -}}
{{- $pg := $ctx.Values.databases.postgres -}}
{{- $component := printf "postgres-%s" $role -}}
{{- $backups := and (eq $role "primary") (include "pyairtable-stack.postgres.backupVolumeEnabled" $ctx) -}}
metadata:
  labels:
    {{- include "pyairtable-stack.postgres.labels" (dict "ctx" $ctx "component" $component) | nindent 4 }}
    pyairtable-stack/role: {{ $role }}
    pyairtable-stack/postgres-server: "true"
  annotations:
    # kubectl exec/logs without -c pick this container (the guide's commands name no container).
    kubectl.kubernetes.io/default-container: postgres
    checksum/config: {{ include (print $ctx.Template.BasePath "/postgres/primary/configmap.yaml") $ctx | sha256sum }}
    {{- with $pg.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "pyairtable-stack.postgres.fullname" $ctx }}
  automountServiceAccountToken: false
  # Longer than the agent's own shutdown budget, so PostgreSQL always stops cleanly.
  terminationGracePeriodSeconds: {{ add (int $pg.postgresql.shutdownTimeoutSeconds) 30 }}
  securityContext:
    {{- include "pyairtable-stack.postgres.podSecurityContext" $ctx | nindent 4 }}
  {{- with $pg.image.pullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  {{- with $pg.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $pg.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $pg.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if eq $role "primary" }}
  {{- with $pg.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- else }}
  # Spread replicas over nodes so one node failure leaves a replica.
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "pyairtable-stack.selectorLabels" $ctx | nindent 16 }}
                pyairtable-stack/postgres-server: "true"
  {{- end }}
  containers:
    - name: postgres
      image: {{ include "pyairtable-stack.postgres.image" $ctx }}
      imagePullPolicy: {{ $pg.image.pullPolicy }}
      command: ["postgres-agent"]
      args: ["instance"]
      env:
        {{- include "pyairtable-stack.postgres.agentEnv" (dict "ctx" $ctx "host" "127.0.0.1") | nindent 8 }}
        - name: PGOPS_ROLE
          value: {{ $role }}
        - name: PGOPS_HEALTH_PORT
          value: "8008"
        - name: PGOPS_SOCKET_DIR
          value: /var/run/postgresql
        - name: PGOPS_CONFIG_FILE
          value: /etc/pgops/postgresql.conf
        {{- if $pg.postgresql.extraHba }}
        - name: PGOPS_HBA_FILE
          value: /etc/pgops/pg_hba.conf
        {{- end }}
        - name: PGOPS_SHUTDOWN_TIMEOUT_SECONDS
          value: {{ $pg.postgresql.shutdownTimeoutSeconds | quote }}
        - name: PGOPS_MAX_SLOT_WAL_KEEP_SIZE
          value: {{ $pg.postgresql.maxSlotWalKeepSize | quote }}
        {{- if eq $role "primary" }}
        - name: PGOPS_DATA_PVC
          value: {{ include "pyairtable-stack.postgres.dataPvc" $ctx | quote }}
        - name: PGOPS_PEERS
          value: {{ include "pyairtable-stack.postgres.replicaPeers" $ctx | quote }}
        {{- else }}
        - name: PGOPS_DATA_PVC
          value: postgres-storage-$(PGOPS_POD_NAME)
        - name: PGOPS_PRIMARY_HOST
          value: {{ include "pyairtable-stack.postgres.primaryHost" $ctx | quote }}
        - name: PGOPS_PRIMARY_PORT
          value: "5432"
        - name: PGOPS_PEERS
          value: {{ include "pyairtable-stack.postgres.primaryPeer" $ctx | quote }}
        - name: PGOPS_MAX_LAG_BYTES
          value: {{ $pg.replication.maxLagBytes | int64 | quote }}
        {{- end }}
        {{- if $pg.tls.enabled }}
        - name: PGOPS_TLS_DIR
          value: /etc/pgops/tls
        {{- end }}
      ports:
        - name: postgresql
          containerPort: 5432
        - name: agent
          containerPort: 8008
      startupProbe:
        httpGet:
          path: /healthz/startup
          port: agent
        periodSeconds: {{ $pg.probes.startup.periodSeconds }}
        failureThreshold: {{ $pg.probes.startup.failureThreshold }}
        timeoutSeconds: {{ $pg.probes.startup.timeoutSeconds }}
      readinessProbe:
        httpGet:
          path: /healthz/ready
          port: agent
        periodSeconds: {{ $pg.probes.readiness.periodSeconds }}
        failureThreshold: {{ $pg.probes.readiness.failureThreshold }}
        timeoutSeconds: {{ $pg.probes.readiness.timeoutSeconds }}
      # The agent keeps /healthz/live true on a full disk: a restart loop would not free space.
      livenessProbe:
        httpGet:
          path: /healthz/live
          port: agent
        periodSeconds: {{ $pg.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ $pg.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ $pg.probes.liveness.failureThreshold }}
      {{- with $pg.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "pyairtable-stack.postgres.containerSecurityContext" $ctx | nindent 8 }}
      volumeMounts:
        - name: postgres-storage
          mountPath: /var/lib/postgresql/data
        - name: config
          mountPath: /etc/pgops/postgresql.conf
          subPath: postgresql.conf
          readOnly: true
        - name: config
          mountPath: /etc/pgops/pg_hba.conf
          subPath: pg_hba.conf
          readOnly: true
        - name: run
          mountPath: /var/run/postgresql
        - name: dshm
          mountPath: /dev/shm
        {{- include "pyairtable-stack.postgres.tmpMount" $ctx | nindent 8 }}
        {{- include "pyairtable-stack.postgres.secretMount" $ctx | nindent 8 }}
        {{- if $pg.tls.enabled }}
        - name: tls
          mountPath: /etc/pgops/tls
          readOnly: true
        {{- end }}
        {{- if $backups }}
        {{- include "pyairtable-stack.postgres.backupMount" $ctx | nindent 8 }}
        {{- end }}
    {{- if $pg.monitoring.enabled }}
    - name: metrics
      image: {{ $pg.monitoring.exporter.image }}
      imagePullPolicy: IfNotPresent
      env:
        - name: DATA_SOURCE_URI
          value: 127.0.0.1:5432/postgres?sslmode=disable
        - name: DATA_SOURCE_USER
          value: postgres
        - name: DATA_SOURCE_PASS_FILE
          value: /etc/pgops/secrets/superuser-password
        - name: PG_EXPORTER_EXTEND_QUERY_PATH
          value: /etc/postgres-exporter/queries.yaml
      ports:
        - name: metrics
          containerPort: 9187
      {{- with $pg.monitoring.exporter.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "pyairtable-stack.postgres.containerSecurityContext" $ctx | nindent 8 }}
      volumeMounts:
        {{- include "pyairtable-stack.postgres.secretMount" $ctx | nindent 8 }}
        - name: exporter-queries
          mountPath: /etc/postgres-exporter
          readOnly: true
    {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "pyairtable-stack.postgres.fullname" $ctx }}-config
    - name: run
      emptyDir: {}
    # PostgreSQL's parallel queries need more shared memory than the runtime's 64Mi default.
    - name: dshm
      emptyDir:
        medium: Memory
        sizeLimit: 256Mi
    {{- include "pyairtable-stack.postgres.tmpVolume" $ctx | nindent 4 }}
    {{- include "pyairtable-stack.postgres.secretVolume" $ctx | nindent 4 }}
    {{- if $pg.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ $pg.tls.existingSecret }}
        # PostgreSQL accepts a root-owned key only when it is not world-readable.
        defaultMode: 0640
    {{- end }}
    {{- if $backups }}
    {{- include "pyairtable-stack.postgres.backupVolume" $ctx | nindent 4 }}
    {{- end }}
    {{- if $pg.monitoring.enabled }}
    - name: exporter-queries
      configMap:
        name: {{ include "pyairtable-stack.fullname" $ctx }}-postgres-exporter-queries
        optional: true
    {{- end }}
{{- end -}}

{{/* volumeClaimTemplate of the data volume (same name on primary and replicas). */}}
{{- define "pyairtable-stack.postgres.dataClaim" -}}
{{- $pg := .Values.databases.postgres -}}
- apiVersion: v1
  kind: PersistentVolumeClaim
  metadata:
    name: postgres-storage
    labels:
      {{- include "pyairtable-stack.selectorLabels" . | nindent 6 }}
  spec:
    accessModes: ["ReadWriteOnce"]
    storageClassName: {{ $pg.persistence.storageClass | quote }}
    resources:
      requests:
        storage: {{ $pg.persistence.size | quote }}
{{- end -}}
