// mendixBuild: the mendix-build step as a Jenkins shared library step.
//
//   @Library('mendix-build@v1') _
//   def out = mendixBuild(appId: 'calc', version: '1.4.2', revision: '3f2a9c1b7e4d')
//
// Runs the step in its image (Docker Pipeline's docker.image(...).inside) or, with
// `image: null`, the `mendix-build` on the agent's PATH (pipx install mendix-build), with
// the API key from a Jenkins credential; reads the outputs it writes
// (mendix-build.properties), archives the .mda, publishes the unit tests' JUnit report
// (`junit: true`) and returns the outputs as a Map. See
// vars/mendixBuild.txt (the help Jenkins shows) and docs/ci/jenkins-library.md.

import groovy.transform.Field

// The image released with this library (a release tag names its own version here).
@Field final String DEFAULT_IMAGE = 'ghcr.io/your-org/mendix-build:1'

@Field final String PROPERTIES = 'mendix-build.properties'
@Field final String RESULT_FILE = 'mendix-build.json'
@Field final String JUNIT_FILE = 'mendix-unit-tests.xml'
@Field final int DEPLOY_FAILED = 7
@Field final int UNIT_TESTS_FAILED = 8

// The step's commands this step runs (null: the default, `run`: build, then deploy).
@Field final List<String> COMMANDS = ['run', 'deploy', 'unit-tests', 'pipeline-run']

// The step's inputs, as this step's parameters (the step's own names in camelCase). The
// API key, the personal access token and the unit tests' password are not among them:
// they come from credentials.
@Field final List<String> INPUTS = [
    'appId', 'username', 'branch', 'revision', 'version', 'description', 'download',
    'artifactPath', 'timeout', 'pollInterval', 'baseUrl', 'config', 'resultFile',
    'logFormat', 'onExisting', 'dryRun', 'projectId', 'repositoryUrl', 'environment',
    'packageId', 'autoSyncDb', 'stopTimeout', 'startTimeout', 'allowProduction', 'backup',
    'rollback', 'logTail', 'settingsFile', 'settingsVariables', 'promoteFrom', 'unitTests',
    'unitTestsUrl', 'unitTestsTimeout', 'junitFile', 'pipelineId', 'pipelinesUrl',
]

// The secrets, and the parameter that names the credential holding each.
@Field final Map SECRETS = [
    apiKey: 'credentialsId or apiKeyCredentialsId',
    pat: 'patCredentialsId',
    unitTestsPassword: 'unitTestsPasswordCredentialsId',
]

// This step's own parameters and their defaults.
@Field final Map OPTIONS = [
    image: DEFAULT_IMAGE,           // null: run `executable` on the agent, no container
    executable: 'mendix-build',     // the command run (in the image, or on the agent)
    credentialsId: 'mendix-api',    // "Username with password": login e-mail and API key
    apiKeyCredentialsId: null,      // or "Secret text": the API key (give `username` then)
    patCredentialsId: null,         // "Secret text": the personal access token
    unitTestsPasswordCredentialsId: null, // "Secret text": the Unit Testing module's password
    command: null,                  // one of COMMANDS; null: the step's default (run)
    lock: true,                     // deploys: true (per app and environment), a name, or false
    timeoutMinutes: null,           // limit of the step's run (the wait for the lock excluded)
    archive: true,                  // archive the .mda and mendix-build.json
    propagate: true,                // false: return the outputs on every exit code
    unstableOn: [UNIT_TESTS_FAILED], // exit codes that mark the build UNSTABLE, not FAILURE
    junit: false,                   // publish the unit tests' report (junitFile) with `junit`
]

def call(Map args = [:]) {
    Map options = settings(args)
    List<String> variables = environmentOf(args)
    String resource = lockName(args, options)
    Map out
    if (resource) {
        lock(resource: resource) {
            out = inImage(options, variables)
        }
    } else {
        out = inImage(options, variables)
    }
    return outcome(out, options)
}

// The parameters checked: no unknown name, no secret given as text.
Map settings(Map args) {
    for (key in args.keySet()) {
        String name = key as String
        if (SECRETS.containsKey(name)) {
            error("mendixBuild: ${name} is a secret: give the id of a Jenkins credential " +
                  "(${SECRETS[name]})")
        }
        if (!(name in INPUTS) && !OPTIONS.containsKey(name)) {
            String meant = closest(name)
            error("mendixBuild: '${name}' is not a parameter" +
                  (meant ? " (did you mean '${meant}'?)" : "; see the mendixBuild help"))
        }
    }
    Map options = [:]
    for (key in OPTIONS.keySet()) {
        options[key] = args.containsKey(key) ? args[key] : OPTIONS[key]
    }
    if (options.command != null && !(options.command in COMMANDS)) {
        error("mendixBuild: command '${options.command}' is not one of ${COMMANDS.join(', ')}")
    }
    options.report = options.junit ? (args.junitFile ?: JUNIT_FILE) as String : null
    return options
}

// The parameter a mistyped name most likely meant: the same letters in another spelling
// (app-id, APP_ID for appId), or one at most two edits away.
String closest(String name) {
    String best = null
    int fewest = 3
    for (known in INPUTS + OPTIONS.keySet()) {
        String candidate = known as String
        if (plain(candidate) == plain(name)) {
            return candidate
        }
        int edits = distance(candidate.toLowerCase(), name.toLowerCase())
        if (edits < fewest) {
            best = candidate
            fewest = edits
        }
    }
    return best
}

String plain(String name) {
    return name.replaceAll(/[-_]/, '').toLowerCase()
}

// Levenshtein distance.
int distance(String one, String other) {
    int[] previous = new int[other.length() + 1]
    for (int j = 0; j <= other.length(); j++) {
        previous[j] = j
    }
    for (int i = 1; i <= one.length(); i++) {
        int[] current = new int[other.length() + 1]
        current[0] = i
        for (int j = 1; j <= other.length(); j++) {
            int cost = one.charAt(i - 1) == other.charAt(j - 1) ? 0 : 1
            current[j] = Math.min(Math.min(current[j - 1] + 1, previous[j] + 1),
                    previous[j - 1] + cost)
        }
        previous = current
    }
    return previous[other.length()]
}

// MENDIX_APP_ID=calc, ... for each input given (null: not given).
List<String> environmentOf(Map args) {
    List<String> variables = []
    for (name in INPUTS) {
        if (args[name] != null) {
            variables << "MENDIX_${snake(name)}=${args[name]}"
        }
    }
    return variables
}

String snake(String name) {
    return name.replaceAll(/([A-Z])/, '_$1').toUpperCase()
}

// The lock a deploy holds: one per app and environment, unless told otherwise.
String lockName(Map args, Map options) {
    if (!args.environment || options.lock == false) {
        return null
    }
    if (options.lock instanceof CharSequence) {
        return options.lock as String
    }
    if (!args.appId) {
        error('mendixBuild: a deploy locks its app and environment: give appId, ' +
              "or name the lock (lock: 'mendix-calc-Production'), or lock: false")
    }
    return "mendix-${args.appId}-${args.environment}"
}

Map inImage(Map options, List<String> variables) {
    if (options.image == null) {
        return limited(options, variables)
    }
    Map out
    docker.image(options.image as String).inside {
        out = limited(options, variables)
    }
    return out
}

Map limited(Map options, List<String> variables) {
    if (options.timeoutMinutes == null) {
        return withSecrets(options, variables)
    }
    Map out
    timeout(time: options.timeoutMinutes as int, unit: 'MINUTES') {
        out = withSecrets(options, variables)
    }
    return out
}

Map withSecrets(Map options, List<String> variables) {
    List bindings = []
    if (options.apiKeyCredentialsId) {
        bindings << string(credentialsId: options.apiKeyCredentialsId, variable: 'MENDIX_API_KEY')
    } else {
        bindings << usernamePassword(credentialsId: options.credentialsId,
                usernameVariable: 'MENDIX_USERNAME', passwordVariable: 'MENDIX_API_KEY')
    }
    if (options.patCredentialsId) {
        bindings << string(credentialsId: options.patCredentialsId, variable: 'MENDIX_PAT')
    }
    if (options.unitTestsPasswordCredentialsId) {
        bindings << string(credentialsId: options.unitTestsPasswordCredentialsId,
                variable: 'MENDIX_UNIT_TESTS_PASSWORD')
    }
    Map out
    withEnv(variables) {
        withCredentials(bindings) {
            out = runStep(options)
        }
    }
    return out
}

// The step, its exit code and outputs. returnStatus: a failure still has its outputs read;
// without the file (the step could not start, or was killed) there are none, never those
// of an earlier run; nor is an earlier run's JUnit report published.
Map runStep(Map options) {
    sh(options.report ? "rm -f ${PROPERTIES} ${quoted(options.report)}" : "rm -f ${PROPERTIES}")
    String script = options.executable as String
    if (options.command) {
        script += " ${options.command}"
    }
    int code = sh(script: script, returnStatus: true)
    Map out = [:]
    if (fileExists(PROPERTIES)) {
        out.putAll(readProperties(file: PROPERTIES))
    }
    out.exitCode = code
    return out
}

// A word for sh: in single quotes, a quote in it closed, escaped and reopened.
String quoted(String word) {
    return "'" + word.replace("'", "'\\''") + "'"
}

// Archive and publish what the run left, then turn its exit code into the build's result.
// A passing run's report holds no test case (the module lists only the failed tests):
// allowEmptyResults keeps `junit` from failing it.
Map outcome(Map out, Map options) {
    if (options.archive) {
        if (out.MENDIX_ARTIFACT_PATH) {
            archiveArtifacts(artifacts: out.MENDIX_ARTIFACT_PATH, fingerprint: true)
        }
        archiveArtifacts(artifacts: RESULT_FILE, allowEmptyArchive: true)
    }
    if (options.report) {
        junit(testResults: options.report, allowEmptyResults: true)
    }
    int code = out.exitCode as int
    if (code == 0 || !options.propagate) {
        return out
    }
    String message = failure(out, code)
    if (code in (options.unstableOn as List) || rolledBack(out, code)) {
        unstable(message)
        return out
    }
    error(message)
}

// A failed deploy whose rollback worked: the environment runs the package it ran before.
boolean rolledBack(Map out, int code) {
    return code == DEPLOY_FAILED && out.MENDIX_ROLLED_BACK == 'true'
}

String failure(Map out, int code) {
    if (code == DEPLOY_FAILED) {
        String where = out.MENDIX_ENVIRONMENT ?: 'the environment'
        String after = rolledBack(out, code) ?
                "; rolled back: ${where} runs the package it ran before" : ''
        return "mendix-build: the deploy to ${where} failed (exit 7)${after}; package " +
                "${out.MENDIX_PACKAGE_ID} is fine and can be deployed again"
    }
    if (code == UNIT_TESTS_FAILED) {
        String deployed = out.MENDIX_DEPLOY_RESULT == 'success' ?
                "; the deploy to ${out.MENDIX_ENVIRONMENT} succeeded" : ''
        return "mendix-build: ${out.MENDIX_TEST_FAILURES} of ${out.MENDIX_TESTS} unit tests " +
                "failed (exit 8)${deployed}; the failed tests are in " +
                "${out.MENDIX_JUNIT_FILE ?: 'the log'}"
    }
    return "mendix-build exited ${code} (${out.MENDIX_RESULT ?: 'no outputs'})"
}
