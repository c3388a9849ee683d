package documentportal

// IntrospectXML describes the exported object; the documents and file
// transfer interfaces match data/dbus-interfaces/*.xml (a test checks).
const IntrospectXML = `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
` + documentsXML + transferXML + `  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="out"/>
    </method>
    <method name="GetAll">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="props" type="a{sv}" direction="out"/>
    </method>
    <method name="Set">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="in"/>
    </method>
    <signal name="PropertiesChanged">
      <arg name="interface_name" type="s"/>
      <arg name="changed_properties" type="a{sv}"/>
      <arg name="invalidated_properties" type="as"/>
    </signal>
  </interface>
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect">
      <arg name="xml_data" type="s" direction="out"/>
    </method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId">
      <arg name="machine_uuid" type="s" direction="out"/>
    </method>
  </interface>
</node>
`

const documentsXML = `  <interface name="org.freedesktop.portal.Documents">
    <property name="version" type="u" access="read"/>
    <method name="GetMountPoint">
      <arg name="path" type="ay" direction="out"/>
    </method>
    <method name="Add">
      <arg name="o_path_fd" type="h" direction="in"/>
      <arg name="reuse_existing" type="b" direction="in"/>
      <arg name="persistent" type="b" direction="in"/>
      <arg name="doc_id" type="s" direction="out"/>
    </method>
    <method name="AddNamed">
      <arg name="o_path_parent_fd" type="h" direction="in"/>
      <arg name="filename" type="ay" direction="in"/>
      <arg name="reuse_existing" type="b" direction="in"/>
      <arg name="persistent" type="b" direction="in"/>
      <arg name="doc_id" type="s" direction="out"/>
    </method>
    <method name="AddFull">
      <arg name="o_path_fds" type="ah" direction="in"/>
      <arg name="flags" type="u" direction="in"/>
      <arg name="app_id" type="s" direction="in"/>
      <arg name="permissions" type="as" direction="in"/>
      <arg name="doc_ids" type="as" direction="out"/>
      <arg name="extra_out" type="a{sv}" direction="out"/>
    </method>
    <method name="AddNamedFull">
      <arg name="o_path_fd" type="h" direction="in"/>
      <arg name="filename" type="ay" direction="in"/>
      <arg name="flags" type="u" direction="in"/>
      <arg name="app_id" type="s" direction="in"/>
      <arg name="permissions" type="as" direction="in"/>
      <arg name="doc_id" type="s" direction="out"/>
      <arg name="extra_out" type="a{sv}" direction="out"/>
    </method>
    <method name="GrantPermissions">
      <arg name="doc_id" type="s" direction="in"/>
      <arg name="app_id" type="s" direction="in"/>
      <arg name="permissions" type="as" direction="in"/>
    </method>
    <method name="RevokePermissions">
      <arg name="doc_id" type="s" direction="in"/>
      <arg name="app_id" type="s" direction="in"/>
      <arg name="permissions" type="as" direction="in"/>
    </method>
    <method name="Delete">
      <arg name="doc_id" type="s" direction="in"/>
    </method>
    <method name="Lookup">
      <arg name="filename" type="ay" direction="in"/>
      <arg name="doc_id" type="s" direction="out"/>
    </method>
    <method name="Info">
      <arg name="doc_id" type="s" direction="in"/>
      <arg name="path" type="ay" direction="out"/>
      <arg name="apps" type="a{sas}" direction="out"/>
    </method>
    <method name="List">
      <arg name="app_id" type="s" direction="in"/>
      <arg name="docs" type="a{say}" direction="out"/>
    </method>
    <method name="GetHostPaths">
      <arg name="doc_ids" type="as" direction="in"/>
      <arg name="host_paths" type="a{say}" direction="out"/>
    </method>
  </interface>
`

const transferXML = `  <interface name="org.freedesktop.portal.FileTransfer">
    <property name="version" type="u" access="read"/>
    <method name="StartTransfer">
      <arg name="options" type="a{sv}" direction="in"/>
      <arg name="key" type="s" direction="out"/>
    </method>
    <method name="AddFiles">
      <arg name="key" type="s" direction="in"/>
      <arg name="fds" type="ah" direction="in"/>
      <arg name="options" type="a{sv}" direction="in"/>
    </method>
    <method name="RetrieveFiles">
      <arg name="key" type="s" direction="in"/>
      <arg name="options" type="a{sv}" direction="in"/>
      <arg name="files" type="as" direction="out"/>
    </method>
    <method name="StopTransfer">
      <arg name="key" type="s" direction="in"/>
    </method>
    <signal name="TransferClosed">
      <arg name="key" type="s"/>
    </signal>
  </interface>
`
