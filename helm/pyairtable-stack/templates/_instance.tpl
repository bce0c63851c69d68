{{/*
Pod template of a member: `postgres-agent instance` (PostgreSQL under Patroni) plus the optional
postgres_exporter sidecar. Only server settings go in here: backup, snapshot, sync, migration,
alert and failover settings live in the objects that use them, so changing them never restarts a
member (test/chart/pod-template.test.ts). Nothing in it depends on a member's role or on how many
members there are: Patroni decides the role at run time and labels the pod with it.
*/}}
{{- define "pyairtable-stack.postgres.memberPod" -}}
{{- $pg := .Values.databases.postgres -}}
{{- $r := $pg.replication -}}
{{- $lw := int $r.loopWait -}}
{{- $ttl := int $r.ttl -}}
{{- $fn := include "pyairtable-stack.postgres.fullname" . -}}
metadata:
  labels:
    {{- include "pyairtable-stack.postgres.labels" (dict "ctx" . "component" "postgres-primary") | nindent 4 }}
    {{- include "pyairtable-stack.postgres.patroniLabels" . | nindent 4 }}
  annotations:
    # kubectl exec/logs without -c pick this container (the guide's commands name no container).
    kubectl.kubernetes.io/default-container: postgres
    # Server settings only: a change of postgresql.parameters or pg_hba lines rolls the members.
    checksum/config: {{ include (print .Template.BasePath "/postgres/members/configmap.yaml") . | sha256sum }}
    {{- with $pg.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ $fn }}
  # Patroni keeps the leader record and the role labels through the Kubernetes API (RBAC in rbac.yaml).
  automountServiceAccountToken: true
  # No Service environment variables: nothing reads them, and Patroni reads PATRONI_* variables.
  enableServiceLinks: false
  # Longer than the agent's own shutdown budget, so PostgreSQL always stops cleanly.
  terminationGracePeriodSeconds: {{ add (int $pg.postgresql.shutdownTimeoutSeconds) 30 }}
  securityContext:
    {{- include "pyairtable-stack.postgres.podSecurityContext" . | nindent 4 }}
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
  {{- if $pg.affinity }}
  affinity:
    {{- toYaml $pg.affinity | nindent 4 }}
  {{- else if ne $pg.podAntiAffinity "none" }}
  # Members on different nodes, so losing a node loses one member.
  affinity:
    podAntiAffinity:
      {{- if eq $pg.podAntiAffinity "hard" }}
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "pyairtable-stack.postgres.memberSelectorLabels" . | nindent 14 }}
      {{- else }}
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "pyairtable-stack.postgres.memberSelectorLabels" . | nindent 16 }}
      {{- end }}
  {{- end }}
  {{- if $pg.topologySpread.enabled }}
  # Members spread across zones, so losing a zone leaves a member to fail over to.
  topologySpreadConstraints:
    - maxSkew: {{ $pg.topologySpread.maxSkew }}
      topologyKey: {{ $pg.topologySpread.topologyKey }}
      whenUnsatisfiable: {{ $pg.topologySpread.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "pyairtable-stack.postgres.memberSelectorLabels" . | nindent 10 }}
  {{- end }}
  {{- if $pg.pitr.enabled }}
  # Restores the whole cluster to a point in time when a request ConfigMap asks this member to
  # (postgres-agent cluster-restore); with no request it exits at once. Present whenever PITR is
  # on, so asking for a restore never changes this template.
  initContainers:
    - name: restore-request
      image: {{ include "pyairtable-stack.postgres.image" . }}
      imagePullPolicy: {{ $pg.image.pullPolicy }}
      {{- include "pyairtable-stack.postgres.agentCommand" . | nindent 6 }}
      args: ["restore-request"]
      env:
        {{- include "pyairtable-stack.postgres.memberEnv" . | nindent 8 }}
      {{- with $pg.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "pyairtable-stack.postgres.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        {{- include "pyairtable-stack.postgres.memberMounts" . | nindent 8 }}
  {{- end }}
  containers:
    - name: postgres
      image: {{ include "pyairtable-stack.postgres.image" . }}
      imagePullPolicy: {{ $pg.image.pullPolicy }}
      {{- include "pyairtable-stack.postgres.agentCommand" . | nindent 6 }}
      args: ["instance"]
      env:
        {{- include "pyairtable-stack.postgres.memberEnv" . | nindent 8 }}
      ports:
        - name: postgresql
          containerPort: 5432
        - name: patroni
          containerPort: 8008
        - name: agent
          containerPort: 8009
        {{- if $pg.pitr.enabled }}
        - name: pgbackrest
          containerPort: 8432
        {{- end }}
      # Started once Patroni answers: cloning a large database is progress, however long it takes.
      startupProbe:
        httpGet:
          path: /healthz/startup
          port: agent
        periodSeconds: {{ $pg.probes.startup.periodSeconds }}
        failureThreshold: {{ $pg.probes.startup.failureThreshold }}
        timeoutSeconds: {{ $pg.probes.startup.timeoutSeconds }}
      # Patroni's /readiness plus a full disk and replica lag; tuned to Patroni's loop and lease:
      # checked every loop, failing after one lease (ttl / loop_wait checks).
      readinessProbe:
        httpGet:
          path: /healthz/ready
          port: agent
        periodSeconds: {{ $pg.probes.readiness.periodSeconds | default $lw }}
        timeoutSeconds: {{ $pg.probes.readiness.timeoutSeconds | default (max 1 (div $lw 2)) }}
        failureThreshold: {{ $pg.probes.readiness.failureThreshold | default (div (add $ttl (sub $lw 1)) $lw) }}
      # Patroni's /liveness; stays true on a full disk (a restart would not free space).
      livenessProbe:
        httpGet:
          path: /healthz/live
          port: agent
        periodSeconds: {{ $pg.probes.liveness.periodSeconds | default $lw }}
        timeoutSeconds: {{ $pg.probes.liveness.timeoutSeconds | default (max 1 (div $lw 2)) }}
        failureThreshold: {{ $pg.probes.liveness.failureThreshold | default (div (add $ttl (sub $lw 1)) $lw) }}
      {{- with $pg.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "pyairtable-stack.postgres.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        {{- include "pyairtable-stack.postgres.memberMounts" . | nindent 8 }}
    {{- if $pg.monitoring.enabled }}
    - name: metrics
      image: {{ $pg.monitoring.exporter.image }}
      imagePullPolicy: IfNotPresent
      env:
        # Over loopback, which stays plain TCP when TLS is enforced for everything else; named, so
        # the activity query can leave out the exporter's own sessions.
        - name: DATA_SOURCE_URI
          value: 127.0.0.1:5432/postgres?sslmode=disable&application_name=postgres_exporter
        # A pg_monitor member that reads pgops.backup_history, not the superuser.
        - name: DATA_SOURCE_USER
          value: pgops_monitor
        - name: DATA_SOURCE_PASS_FILE
          value: /etc/pgops/secrets/monitor-password
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
        {{- include "pyairtable-stack.postgres.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        - name: monitor-secret
          mountPath: /etc/pgops/secrets
          readOnly: true
        - name: exporter-queries
          mountPath: /etc/postgres-exporter
          readOnly: true
    {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ $fn }}-config
    - name: ha
      configMap:
        name: {{ $fn }}-ha
    # Socket, Patroni's configuration and passfiles: private, in memory, gone with the pod.
    - name: run
      emptyDir:
        medium: Memory
        sizeLimit: 16Mi
    # PostgreSQL's parallel queries need more shared memory than the runtime's 64Mi default.
    - name: dshm
      emptyDir:
        medium: Memory
        sizeLimit: 256Mi
    {{- include "pyairtable-stack.postgres.tmpVolume" . | nindent 4 }}
    {{- include "pyairtable-stack.postgres.secretVolume" (dict "ctx" . "keys" (list "superuser" "replication" "app" "restapi" "monitor")) | nindent 4 }}
    {{- if $pg.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ $pg.tls.existingSecret }}
        # PostgreSQL accepts a root-owned key only when it is not world-readable.
        defaultMode: 0640
    {{- end }}
    {{- if $pg.pitr.enabled }}
    {{- include "pyairtable-stack.postgres.pgbackrestTlsVolume" . | nindent 4 }}
    {{- if $pg.pitr.repo2 }}
    {{- include "pyairtable-stack.postgres.objectStoreVolume" . | nindent 4 }}
    {{- end }}
    {{- end }}
    {{- if $pg.monitoring.enabled }}
    # The exporter sees its own password only.
    - name: monitor-secret
      secret:
        secretName: {{ include "pyairtable-stack.postgres.secretName" . }}
        defaultMode: 0440
        items:
          - key: {{ $pg.auth.monitorPasswordKey }}
            path: monitor-password
    - name: exporter-queries
      configMap:
        name: {{ include "pyairtable-stack.fullname" . }}-postgres-exporter-queries
        optional: true
    {{- end }}
{{- end -}}

{{/*
Environment of a member's containers (postgres, and the restore-request init container, which
acts on the same data directory with the same settings). Server settings only, like the pod.
*/}}
{{- define "pyairtable-stack.postgres.memberEnv" -}}
{{- $pg := .Values.databases.postgres -}}
{{- $r := $pg.replication -}}
{{- $lw := int $r.loopWait -}}
{{- $ttl := int $r.ttl -}}
- name: PGDATA
  value: /var/lib/postgresql/data/pgdata
- name: PGOPS_RELEASE
  value: {{ include "pyairtable-stack.fullname" . | quote }}
- name: PGOPS_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: PGOPS_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: PGOPS_POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: PGOPS_LOG_FORMAT
  value: {{ $pg.logFormat | quote }}
- name: PGOPS_PORT
  value: "5432"
- name: PGOPS_SOCKET_DIR
  value: /var/run/postgresql
- name: PGOPS_HEALTH_PORT
  value: "8009"
- name: PGOPS_CONFIG_FILE
  value: /etc/pgops/config/postgresql.conf
- name: PGOPS_HBA_FILE
  value: /etc/pgops/config/pg_hba.conf
# failover, synchronous and failsafe: re-read while running, so changing them restarts nothing.
- name: PGOPS_HA_FILE
  value: /etc/pgops/ha/ha.json
- name: PGOPS_DCS
  value: kubernetes
- name: PGOPS_SCOPE
  value: {{ include "pyairtable-stack.postgres.scope" . | quote }}
- name: PGOPS_K8S_LABELS
  value: {{ include "pyairtable-stack.postgres.patroniSelector" . | quote }}
- name: PGOPS_K8S_ROLE_LABEL
  value: {{ include "pyairtable-stack.postgres.roleLabel" . | quote }}
- name: PGOPS_K8S_SCOPE_LABEL
  value: {{ include "pyairtable-stack.postgres.scopeLabel" . | quote }}
- name: PGOPS_RESTAPI_PORT
  value: "8008"
- name: PGOPS_RESTAPI_USER
  value: patroni
- name: PGOPS_RESTAPI_PASSWORD_FILE
  value: /etc/pgops/secrets/restapi-password
- name: PGOPS_HA_TTL
  value: {{ $ttl | quote }}
- name: PGOPS_HA_LOOP_WAIT
  value: {{ $lw | quote }}
- name: PGOPS_HA_RETRY_TIMEOUT
  value: {{ $r.retryTimeout | quote }}
- name: PGOPS_MAX_LAG_ON_FAILOVER
  value: {{ $r.maxLagOnFailover | int64 | quote }}
- name: PGOPS_MAX_LAG_BYTES
  value: {{ $r.maxLagBytes | int64 | quote }}
- name: PGOPS_SUPERUSER
  value: postgres
- name: PGOPS_SUPERUSER_PASSWORD_FILE
  value: /etc/pgops/secrets/superuser-password
- name: PGOPS_REPLICATION_USER
  value: replicator
- name: PGOPS_REPLICATION_PASSWORD_FILE
  value: /etc/pgops/secrets/replication-password
- name: PGOPS_APP_USER
  value: {{ $pg.username | quote }}
- name: PGOPS_APP_PASSWORD_FILE
  value: /etc/pgops/secrets/password
- name: PGOPS_APP_DATABASE
  value: {{ $pg.database | quote }}
- name: PGOPS_MONITOR_USER
  value: pgops_monitor
- name: PGOPS_MONITOR_PASSWORD_FILE
  value: /etc/pgops/secrets/monitor-password
- name: PGOPS_SHUTDOWN_TIMEOUT_SECONDS
  value: {{ $pg.postgresql.shutdownTimeoutSeconds | quote }}
- name: PGOPS_MAX_SLOT_WAL_KEEP_SIZE
  value: {{ $pg.postgresql.maxSlotWalKeepSize | quote }}
- name: PGOPS_DATA_PVC
  value: postgres-storage-$(PGOPS_POD_NAME)
{{- if $pg.tls.enabled }}
- name: PGOPS_TLS_DIR
  value: /etc/pgops/tls
{{- end }}
{{- if $pg.pitr.enabled }}
# WAL to the repository pod over TLS (and to repo2 directly); its TLS server lets the
# repository pod back up whichever member leads.
{{- include "pyairtable-stack.postgres.pitrEnv" . | nindent 0 }}
- name: PGOPS_PGBACKREST_REPO1_HOST
  value: {{ include "pyairtable-stack.postgres.repoHost" . | quote }}
- name: PGOPS_ARCHIVE_TIMEOUT_SECONDS
  value: {{ $pg.pitr.archiveTimeoutSeconds | quote }}
{{- end }}
{{- end -}}

{{/* Volume mounts of a member's containers (postgres and restore-request). */}}
{{- define "pyairtable-stack.postgres.memberMounts" -}}
{{- $pg := .Values.databases.postgres -}}
- name: postgres-storage
  mountPath: /var/lib/postgresql/data
# Whole directories, not subPath: the kubelet updates them in place.
- name: config
  mountPath: /etc/pgops/config
  readOnly: true
- name: ha
  mountPath: /etc/pgops/ha
  readOnly: true
- name: run
  mountPath: /var/run/postgresql
- name: dshm
  mountPath: /dev/shm
{{- include "pyairtable-stack.postgres.tmpMount" . | nindent 0 }}
{{- include "pyairtable-stack.postgres.secretMount" . | nindent 0 }}
{{- if $pg.tls.enabled }}
- name: tls
  mountPath: /etc/pgops/tls
  readOnly: true
{{- end }}
{{- if $pg.pitr.enabled }}
{{- include "pyairtable-stack.postgres.pgbackrestTlsMount" . | nindent 0 }}
{{- if $pg.pitr.repo2 }}
{{- include "pyairtable-stack.postgres.objectStoreMount" . | nindent 0 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* PGOPS_K8S_LABELS: the labels Patroni selects its member pods by, k=v comma-separated. */}}
{{- define "pyairtable-stack.postgres.patroniSelector" -}}
{{- $l := fromYaml (include "pyairtable-stack.selectorLabels" .) -}}
{{- $_ := set $l "pyairtable-stack/postgres-server" "true" -}}
{{- $pairs := list -}}
{{- range $k := keys $l | sortAlpha -}}
{{- $pairs = append $pairs (printf "%s=%s" $k (index $l $k)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* volumeClaimTemplate of the data volume. Immutable once the StatefulSet exists (test/chart/immutable.test.ts). */}}
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
